import { useEffect, useMemo, useRef, useState } from 'react';
import { App, Button, Card, Col, DatePicker, Descriptions, Input, Popconfirm, Progress, Row, Space, Statistic, Tag } from 'antd';
import type { Dayjs } from 'dayjs';
import { api, may, type Campaign, type Rendered, type TargetingRun, type Whoami } from '../api';
import { Chart, type ChartOption } from '../components/Chart';
import { ExplainNumber, FunnelChart } from '../components/Funnel';
import { Problem } from '../components/Problem';
import { navigate } from '../components/router';
import { useI18n } from '../i18n';

export const CAMPAIGN_STATUSES = ['draft', 'targeted', 'approved', 'scheduled', 'sending', 'paused', 'completed', 'cancelled', 'failed'] as const;
type Status = (typeof CAMPAIGN_STATUSES)[number];
type ProgressView = NonNullable<Campaign['progress']>;

const COLORS: Record<Status, string> = {
  draft: 'default',
  targeted: 'processing',
  approved: 'processing',
  scheduled: 'processing',
  sending: 'processing',
  paused: 'warning',
  completed: 'success',
  cancelled: 'default',
  failed: 'error',
};

/** Statuses whose progress still moves: the page polls while the campaign is in one. */
const LIVE: ReadonlySet<Status> = new Set(['approved', 'scheduled', 'sending', 'paused']);

export function StatusTag({ status }: { status: Status }) {
  const { t } = useI18n();
  return (
    <Tag color={COLORS[status]} data-testid="campaign-status" data-status={status}>
      {t(`campaignStatus_${status}`)}
    </Tag>
  );
}

/** Recipients past sending (the CLI's bar counts the same way). */
export function doneOf(p: ProgressView): number {
  return p.total - p.queued - p.sending;
}

interface Sample {
  at: number;
  sent: number;
  delivered: number;
  failed: number;
}

function progressOption(samples: Sample[], t: (k: 'sent' | 'delivered' | 'failed') => string): ChartOption {
  const line = (name: string, key: keyof Omit<Sample, 'at'>, color: string) => ({
    name,
    type: 'line',
    showSymbol: false,
    itemStyle: { color },
    data: samples.map((s) => [s.at, s[key]]),
  });
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 8, right: 24, top: 30, bottom: 8, containLabel: true },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', minInterval: 1 },
    series: [line(t('sent'), 'sent', '#1668dc'), line(t('delivered'), 'delivered', '#389e0d'), line(t('failed'), 'failed', '#cf1322')],
  };
}

/** One campaign: its settings, funnel, approval, launch or schedule, and live progress with pause/resume/cancel. */
export function CampaignPage({ id, who }: { id: string; who: Whoami }) {
  const { t, date } = useI18n();
  const { message } = App.useApp();
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [run, setRun] = useState<Pick<TargetingRun, 'funnel' | 'target' | 'control'> | null>(null);
  const [rendered, setRendered] = useState<Rendered | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [at, setAt] = useState<Dayjs | null>(null);
  const [note, setNote] = useState('');
  const [samples, setSamples] = useState<Sample[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const record = (c: Campaign) => {
    setCampaign(c);
    const p = c.progress;
    if (p) setSamples((old) => [...old.slice(-600), { at: Date.now(), sent: p.submitted + p.delivered + p.failed, delivered: p.delivered, failed: p.failed }]);
  };

  // Polls every 1.5 s while the campaign can still move; stops at a final state.
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const c = await api.campaign(id);
        if (stopped) return;
        record(c);
        if (LIVE.has(c.status)) timer.current = setTimeout(poll, 1500);
      } catch (e) {
        if (!stopped) setError(e);
      }
    };
    void poll();
    return () => {
      stopped = true;
      if (timer.current) clearTimeout(timer.current);
    };
  }, [id, campaign?.status]);

  useEffect(() => {
    if (campaign?.targetingRunId) api.funnel(id).then(setRun, () => setRun(null));
    else setRun(null);
  }, [id, campaign?.targetingRunId]);

  const act = async (work: () => Promise<Campaign | TargetingRun>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      const answer = await work();
      if ('funnel' in answer) setRun(answer);
      record(await api.campaign(id));
      message.success(done);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const chart = useMemo(() => progressOption(samples, t), [samples, t]);
  if (!campaign) return <Problem error={error} />;
  const p = campaign.progress;
  const status = campaign.status;
  const operator = may(who.role, 'operator');
  const scheduler = may(who.role, 'scheduler');
  const sms = 'text' in campaign.message ? campaign.message : null;

  return (
    <>
      <Problem error={error} onClose={() => setError(null)} />
      <Card
        size="small"
        title={
          <Space>
            <span data-testid="campaign-name">{campaign.name}</span>
            <StatusTag status={status} />
          </Space>
        }
        extra={
          <Button onClick={() => navigate(`/reports?campaign=${campaign.id}`)} disabled={!campaign.launchedAt} data-testid="open-report">
            {t('openReport')}
          </Button>
        }
      >
        {campaign.statusReason && <p>{campaign.statusReason}</p>}
        <Space wrap style={{ marginBottom: 12 }}>
          {operator && (status === 'draft' || status === 'targeted') && (
            <Button type={status === 'draft' ? 'primary' : 'default'} loading={busy} onClick={() => act(() => api.target(id), t('targeted'))} data-testid="run-targeting">
              {t('runTargeting')}
            </Button>
          )}
          {operator && status === 'targeted' && (
            <>
              <Input aria-label={t('approvalNote')} placeholder={t('approvalNote')} value={note} onChange={(e) => setNote(e.target.value)} style={{ width: 220 }} />
              <Button type="primary" loading={busy} onClick={() => act(() => api.approve(id, note || undefined), t('approved'))} data-testid="approve">
                {t('approve')}
              </Button>
            </>
          )}
          {scheduler && status === 'approved' && (
            <>
              <Button type="primary" loading={busy} onClick={() => act(() => api.launch(id), t('launched'))} data-testid="launch">
                {t('launchNow')}
              </Button>
              <DatePicker aria-label={t('scheduleAt')} showTime value={at} onChange={setAt} placeholder={t('scheduleAt')} />
              <Button disabled={!at} loading={busy} onClick={() => at && act(() => api.launch(id, at.format()), t('scheduled'))}>
                {t('schedule')}
              </Button>
            </>
          )}
          {scheduler && (status === 'sending' || status === 'scheduled') && (
            <Button loading={busy} onClick={() => act(() => api.lifecycle(id, 'pause'), t('campaignStatus_paused'))}>
              {t('pause')}
            </Button>
          )}
          {scheduler && status === 'paused' && (
            <Button type="primary" loading={busy} onClick={() => act(() => api.lifecycle(id, 'resume'), t('campaignStatus_sending'))}>
              {t('resume')}
            </Button>
          )}
          {scheduler && ['sending', 'paused', 'scheduled', 'approved'].includes(status) && (
            <Popconfirm title={t('confirmCancel')} onConfirm={() => act(() => api.lifecycle(id, 'cancel'), t('campaignStatus_cancelled'))}>
              <Button danger loading={busy}>
                {t('cancelCampaign')}
              </Button>
            </Popconfirm>
          )}
        </Space>
        <Descriptions size="small" column={{ xs: 1, md: 2, xl: 3 }} bordered>
          <Descriptions.Item label={t('segment')}>{campaign.segmentId}</Descriptions.Item>
          <Descriptions.Item label={t('policy')}>{campaign.exclusionPolicy}</Descriptions.Item>
          <Descriptions.Item label={t('gateway')}>{campaign.gateway}</Descriptions.Item>
          <Descriptions.Item label={t('category')}>{campaign.category ?? '—'}</Descriptions.Item>
          <Descriptions.Item label={t('product')}>{campaign.productId ?? '—'}</Descriptions.Item>
          <Descriptions.Item label={t('controlPercent')}>{campaign.controlGroupPercent}%</Descriptions.Item>
          <Descriptions.Item label={t('createdBy')}>{campaign.createdBy}</Descriptions.Item>
          <Descriptions.Item label={t('approvedBy')}>{campaign.approvedBy ?? '—'}</Descriptions.Item>
          <Descriptions.Item label={t('launchedAt')}>{campaign.launchedAt ? date(campaign.launchedAt) : campaign.sendAt ? `${t('scheduled')} ${date(campaign.sendAt)}` : '—'}</Descriptions.Item>
          {sms && <Descriptions.Item label={t('message')} span={3}>{`${sms.signature ?? ''}${sms.text}${sms.optOutSuffix ?? ''}`}</Descriptions.Item>}
        </Descriptions>
      </Card>

      {p && (
        <Card size="small" title={t('sendProgress')} style={{ marginTop: 16 }}>
          <Progress percent={p.total ? Math.floor((doneOf(p) / p.total) * 100) : 0} status={status === 'completed' ? 'success' : status === 'sending' ? 'active' : 'normal'} aria-label={t('sendProgress')} />
          <Row gutter={16} style={{ marginTop: 8 }}>
            {(['total', 'queued', 'submitted', 'delivered', 'failed', 'suppressed', 'capped', 'unknown', 'cancelled', 'control'] as const).map((k) => (
              <Col key={k} xs={12} md={6} xl={4}>
                <Statistic title={t(`p_${k}`)} value={p[k]} valueStyle={{ fontSize: 20 }} data-testid={`progress-${k}`} />
              </Col>
            ))}
            <Col xs={12} md={6} xl={4}>
              <Statistic title={t('rate')} value={p.ratePerSecond} precision={1} suffix="/s" valueStyle={{ fontSize: 20 }} />
            </Col>
          </Row>
          {samples.length > 1 && <Chart option={chart} label={t('progressOverTime')} height={240} />}
        </Card>
      )}

      <Row gutter={16} style={{ marginTop: 16 }}>
        <Col xs={24} xl={14}>
          <Card size="small" title={t('funnel')}>
            {run ? <FunnelChart run={run} /> : <span>{t('notTargeted')}</span>}
            {run && operator && <ExplainNumber campaignId={id} />}
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          {sms && operator && (
            <Card size="small" title={t('renderedSamples')} extra={<Button size="small" onClick={() => api.render(id).then(setRendered, setError)}>{t('render')}</Button>}>
              <RenderedSamples rendered={rendered} />
            </Card>
          )}
        </Col>
      </Row>
    </>
  );
}

export function RenderedSamples({ rendered }: { rendered: Rendered | null }) {
  const { t } = useI18n();
  if (!rendered) return null;
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      {rendered.samples.map((s) => (
        <div key={s.customerId}>
          <div className="sms-preview">{s.text}</div>
          <small>
            #{s.customerId} · {s.encoding} · {t('chars', String(s.chars))} · {t('parts', String(s.parts))}
          </small>
        </div>
      ))}
    </Space>
  );
}
