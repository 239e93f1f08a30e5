import { useEffect, useMemo, useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Steps, TimePicker, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { composeSms } from '../../campaigns/message.js';
import { api, may, type Campaign, type CampaignInput, type Gateway, type PolicySummary, type Rendered, type Segment, type TargetingRun, type Whoami } from '../api';
import { ExplainNumber, FunnelChart } from '../components/Funnel';
import { Problem } from '../components/Problem';
import { navigate } from '../components/router';
import { useI18n } from '../i18n';
import { RenderedSamples } from './CampaignPage';

interface Draft {
  name: string;
  category?: string;
  productId?: string;
  class: 'marketing' | 'notification';
  segmentId?: string;
  exclusionPolicy: string;
  controlGroupPercent: number;
  gateway: string;
  perSecond?: number;
  window?: [Dayjs, Dayjs];
  signature: string;
  text: string;
  optOutSuffix: string;
}

const INITIAL: Draft = {
  name: '',
  class: 'marketing',
  exclusionPolicy: 'default',
  controlGroupPercent: 5,
  gateway: 'simulator',
  signature: '【中国移动】',
  text: '尊敬的{name}，您本月流量已用{data_mb}MB，升级5G套餐享双倍流量',
  optOutSuffix: '回T退订',
};

function toInput(d: Draft): CampaignInput {
  return {
    name: d.name.trim(),
    ...(d.category ? { category: d.category } : {}),
    ...(d.productId ? { productId: d.productId } : {}),
    class: d.class,
    segmentId: d.segmentId ?? '',
    exclusionPolicy: d.exclusionPolicy,
    channel: 'sms',
    message: { text: d.text, signature: d.signature || undefined, optOutSuffix: d.optOutSuffix || undefined },
    schedule: d.window ? { window: { from: d.window[0].format('HH:mm'), to: d.window[1].format('HH:mm') } } : {},
    throttle: d.perSecond ? { perSecond: d.perSecond } : {},
    controlGroupPercent: d.controlGroupPercent,
    gateway: d.gateway,
  };
}

/**
 * The live counter: the same composition and splitting the server sends with
 * (src/campaigns/message.ts over src/gateways/sms-encoding.ts, bundled into the console), for
 * a few customers of the chosen segment, so the length shown is the length sent.
 */
function MessageCounter({ draft, samples }: { draft: Draft; samples: Array<Record<string, unknown>> }) {
  const { t } = useI18n();
  const rows = samples.length > 0 ? samples.slice(0, 3) : [{}];
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="message-counter">
      {rows.map((vars, i) => {
        const sms = composeSms({ text: draft.text, signature: draft.signature, optOutSuffix: draft.optOutSuffix }, vars);
        return (
          <div key={i}>
            <div className="sms-preview">{sms.text}</div>
            <small>
              {sms.encoding} · {t('chars', String(sms.chars))} · <strong data-testid="parts">{t('parts', String(sms.parts))}</strong>
              {sms.parts > 10 && <Typography.Text type="danger"> {t('tooLong')}</Typography.Text>}
            </small>
          </div>
        );
      })}
    </Space>
  );
}

/** 营销案向导: segment → policy and sending → message → targeting → approval and launch. */
export function CampaignWizard({ who }: { who: Whoami }) {
  const { t } = useI18n();
  const [step, setStep] = useState(0);
  const [draft, setDraft] = useState<Draft>(INITIAL);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [policies, setPolicies] = useState<PolicySummary[]>([]);
  const [gateways, setGateways] = useState<Gateway[] | null>(null);
  const [samples, setSamples] = useState<Array<Record<string, unknown>>>([]);
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [rendered, setRendered] = useState<Rendered | null>(null);
  const [run, setRun] = useState<TargetingRun | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));

  useEffect(() => {
    api.segments(undefined, 200).then((s) => setSegments(s.segments.filter((x) => x.status === 'ready')), setError);
    api.policies().then((p) => setPolicies(p.policies), setError);
    // Only admins may list gateways; everyone else names one.
    if (may(who.role, 'admin')) api.gateways().then((g) => setGateways(g.gateways), () => setGateways(null));
  }, [who.role]);

  useEffect(() => {
    if (!draft.segmentId) return;
    api.preview({ segment: draft.segmentId }, 3).then((p) => setSamples(p.sample), () => setSamples([]));
  }, [draft.segmentId]);

  const selected = useMemo(() => segments.find((s) => s.id === draft.segmentId), [segments, draft.segmentId]);

  const guard = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const create = () =>
    guard(async () => {
      const saved = campaign ? await api.updateCampaign(campaign.id, toInput(draft)) : await api.createCampaign(toInput(draft));
      setCampaign(saved);
      setRendered(await api.render(saved.id));
      setStep(3);
    });

  const target = () =>
    guard(async () => {
      if (!campaign) return;
      setRun(await api.target(campaign.id));
      setCampaign(await api.campaign(campaign.id));
    });

  const steps = [t('wizSegment'), t('wizPolicy'), t('wizMessage'), t('wizTarget'), t('wizApprove')];
  return (
    <>
      <Steps current={step} items={steps.map((title) => ({ title }))} style={{ marginBottom: 16 }} />
      <Problem error={error} onClose={() => setError(null)} />
      {step === 0 && (
        <Card size="small" title={steps[0]}>
          <Form layout="vertical" style={{ maxWidth: 640 }}>
            <Form.Item label={t('campaignName')} htmlFor="wiz-campaignName" required>
              <Input id="wiz-campaignName" value={draft.name} onChange={(e) => set({ name: e.target.value })} data-testid="campaign-name-input" />
            </Form.Item>
            <Form.Item label={t('segment')} htmlFor="wiz-segment" required>
              <Select id="wiz-segment"
                showSearch={{ optionFilterProp: 'label' }}
                value={draft.segmentId}
                onChange={(segmentId: string) => set({ segmentId })}
                options={segments.map((s) => ({ value: s.id, label: `${s.name}（${s.count ?? '?'}）` }))}
                data-testid="campaign-segment"
              />
            </Form.Item>
            <Row gutter={12}>
              <Col span={8}>
                <Form.Item label={t('category')} htmlFor="wiz-category">
                  <Input id="wiz-category" value={draft.category} onChange={(e) => set({ category: e.target.value })} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item label={t('product')} htmlFor="wiz-product">
                  <Input id="wiz-product" value={draft.productId} onChange={(e) => set({ productId: e.target.value })} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item label={t('class')} htmlFor="wiz-class">
                  <Select id="wiz-class" value={draft.class} onChange={(c) => set({ class: c })} options={[{ value: 'marketing', label: t('class_marketing') }, { value: 'notification', label: t('class_notification') }]} />
                </Form.Item>
              </Col>
            </Row>
            <Button type="primary" disabled={!draft.name.trim() || !draft.segmentId} onClick={() => setStep(1)} data-testid="wizard-next">
              {t('next')}
            </Button>
          </Form>
        </Card>
      )}
      {step === 1 && (
        <Card size="small" title={steps[1]}>
          <Form layout="vertical" style={{ maxWidth: 640 }}>
            <Form.Item label={t('policy')} htmlFor="wiz-policy">
              <Select id="wiz-policy" value={draft.exclusionPolicy} onChange={(exclusionPolicy: string) => set({ exclusionPolicy })} options={policies.map((p) => ({ value: p.name, label: `${p.name}（${t('stepsCount', String(p.steps))}）` }))} />
            </Form.Item>
            <Row gutter={12}>
              <Col span={8}>
                <Form.Item label={t('controlPercent')} htmlFor="wiz-controlPercent">
                  <InputNumber id="wiz-controlPercent" min={0} max={50} value={draft.controlGroupPercent} onChange={(v) => set({ controlGroupPercent: v ?? 0 })} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item label={t('throttle')} htmlFor="wiz-throttle">
                  <InputNumber id="wiz-throttle" min={1} value={draft.perSecond} placeholder={t('gatewayRate')} onChange={(v) => set({ perSecond: v ?? undefined })} />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item label={t('gateway')} htmlFor="wiz-gateway">
                  {gateways ? (
                    <Select id="wiz-gateway" value={draft.gateway} onChange={(gateway: string) => set({ gateway })} options={gateways.map((g) => ({ value: g.name, label: `${g.name} (${g.protocol}, ${g.status})` }))} />
                  ) : (
                    <Input id="wiz-gateway" value={draft.gateway} onChange={(e) => set({ gateway: e.target.value })} />
                  )}
                </Form.Item>
              </Col>
            </Row>
            <Form.Item label={t('sendWindow')} htmlFor="wiz-sendWindow" extra={t('sendWindowHint')}>
              <TimePicker.RangePicker id="wiz-sendWindow" format="HH:mm" value={draft.window} onChange={(v) => set({ window: v && v[0] && v[1] ? [v[0], v[1]] : undefined })} />
            </Form.Item>
            <Space>
              <Button onClick={() => setStep(0)}>{t('back')}</Button>
              <Button type="primary" onClick={() => setStep(2)} data-testid="wizard-next">
                {t('next')}
              </Button>
            </Space>
          </Form>
        </Card>
      )}
      {step === 2 && (
        <Row gutter={16}>
          <Col xs={24} xl={12}>
            <Card size="small" title={steps[2]}>
              <Form layout="vertical">
                <Form.Item label={t('signature')} htmlFor="wiz-signature">
                  <Input id="wiz-signature" value={draft.signature} onChange={(e) => set({ signature: e.target.value })} />
                </Form.Item>
                <Form.Item label={t('messageText')} htmlFor="wiz-messageText" extra={t('placeholdersHint')}>
                  <Input.TextArea id="wiz-messageText" rows={4} value={draft.text} onChange={(e) => set({ text: e.target.value })} data-testid="message-text" />
                </Form.Item>
                <Form.Item label={t('optOutSuffix')} htmlFor="wiz-optOutSuffix">
                  <Input id="wiz-optOutSuffix" value={draft.optOutSuffix} onChange={(e) => set({ optOutSuffix: e.target.value })} />
                </Form.Item>
                <Space>
                  <Button onClick={() => setStep(1)}>{t('back')}</Button>
                  <Button type="primary" loading={busy} onClick={create} data-testid="create-campaign">
                    {campaign ? t('saveCampaign') : t('createCampaign')}
                  </Button>
                </Space>
              </Form>
            </Card>
          </Col>
          <Col xs={24} xl={12}>
            <Card size="small" title={t('liveCounter')}>
              <MessageCounter draft={draft} samples={samples} />
            </Card>
          </Col>
        </Row>
      )}
      {step === 3 && campaign && (
        <Row gutter={16}>
          <Col xs={24} xl={14}>
            <Card size="small" title={steps[3]} extra={<Button type="primary" loading={busy} onClick={target} data-testid="run-targeting">{run ? t('runAgain') : t('runTargeting')}</Button>}>
              {run ? <FunnelChart run={run} /> : <Typography.Paragraph>{t('targetHint', selected?.name ?? '', draft.exclusionPolicy)}</Typography.Paragraph>}
              {run && <ExplainNumber campaignId={campaign.id} />}
              <Space style={{ marginTop: 12 }}>
                <Button onClick={() => setStep(2)}>{t('back')}</Button>
                <Button type="primary" disabled={!run} onClick={() => setStep(4)} data-testid="wizard-next">
                  {t('next')}
                </Button>
              </Space>
            </Card>
          </Col>
          <Col xs={24} xl={10}>
            <Card size="small" title={t('renderedSamples')}>
              <RenderedSamples rendered={rendered} />
            </Card>
          </Col>
        </Row>
      )}
      {step === 4 && campaign && (
        <Card size="small" title={steps[4]}>
          <Alert type="info" showIcon title={t('approvalHint')} style={{ marginBottom: 12 }} />
          <Button type="primary" onClick={() => navigate(`/campaigns/${campaign.id}`)} data-testid="open-campaign">
            {t('openCampaign')}
          </Button>
        </Card>
      )}
    </>
  );
}
