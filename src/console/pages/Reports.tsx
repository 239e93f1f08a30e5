import { useEffect, useMemo, useState } from 'react';
import { Button, Card, Col, DatePicker, Descriptions, Row, Select, Space, Table, Tabs } from 'antd';
import type { Dayjs } from 'dayjs';
import { api, type Campaign, type CampaignReport, type GridsReport, type SendsReport } from '../api';
import { Chart, type ChartOption } from '../components/Chart';
import { Problem } from '../components/Problem';
import { navigate, useLocation } from '../components/router';
import { useI18n } from '../i18n';

const BY = ['city', 'county', 'grid_id', 'brand'] as const;
const pct = (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)}%`);

/**
 * Absolute uplift per breakdown key as bars, with the 95 % interval drawn as an error bar
 * (a custom series: a vertical line with caps from ci95[0] to ci95[1]).
 */
function upliftOption(report: CampaignReport, labels: { uplift: string; ci: string }): ChartOption {
  const rows = report.breakdown.filter((b) => b.uplift.absolute !== null);
  const keys = rows.map((b) => b.key ?? '(null)');
  return {
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      valueFormatter: (v: number) => (typeof v === 'number' ? `${(v * 100).toFixed(2)}%` : String(v)),
    },
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
    xAxis: { type: 'category', data: keys, axisLabel: { interval: 0, rotate: keys.length > 8 ? 40 : 0 } },
    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => `${(v * 100).toFixed(1)}%` } },
    series: [
      { name: labels.uplift, type: 'bar', data: rows.map((b) => b.uplift.absolute), itemStyle: { color: '#1668dc' } },
      {
        name: labels.ci,
        type: 'custom',
        itemStyle: { color: '#262626' },
        data: rows.map((b, i) => [i, b.uplift.ci95?.[0] ?? b.uplift.absolute, b.uplift.ci95?.[1] ?? b.uplift.absolute]),
        renderItem: (_params: unknown, api: { value(i: number): number; coord(p: number[]): number[]; size(p: number[]): number[]; style(): object }) => {
          const x = api.value(0);
          const lo = api.coord([x, api.value(1)]);
          const hi = api.coord([x, api.value(2)]);
          const half = (api.size([1, 0])[0] ?? 20) * 0.12;
          const style = { ...api.style(), stroke: '#262626', lineWidth: 1.5 };
          return {
            type: 'group',
            children: [
              { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
              { type: 'line', shape: { x1: lo[0]! - half, y1: lo[1], x2: lo[0]! + half, y2: lo[1] }, style },
              { type: 'line', shape: { x1: hi[0]! - half, y1: hi[1], x2: hi[0]! + half, y2: hi[1] }, style },
            ],
          };
        },
        z: 10,
      },
    ],
  };
}

/** 报表: campaign effectiveness (uplift by city/county/grid), the send summary and the grid assessment. */
export function Reports() {
  const { t } = useI18n();
  const { query } = useLocation();
  const tab = query.get('tab') ?? 'campaign';
  return (
    <Tabs
      activeKey={tab}
      onChange={(key) => navigate(`/reports?tab=${key}${query.get('campaign') ? `&campaign=${query.get('campaign')}` : ''}`)}
      items={[
        { key: 'campaign', label: t('effectiveness'), children: <CampaignReportView initial={query.get('campaign')} /> },
        { key: 'sends', label: t('sendSummary'), children: <SendsView /> },
        { key: 'grids', label: t('gridReport'), children: <GridsView /> },
      ]}
    />
  );
}

function CampaignReportView({ initial }: { initial: string | null }) {
  const { t } = useI18n();
  const [campaigns, setCampaigns] = useState<Campaign[]>([]);
  const [id, setId] = useState<string | null>(initial);
  const [by, setBy] = useState<string>('city');
  const [report, setReport] = useState<CampaignReport | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    api.campaigns({ limit: 100 }).then((c) => setCampaigns(c.campaigns.filter((x) => x.launchedAt)), setError);
  }, []);
  useEffect(() => {
    if (!id) return;
    setError(null);
    api.report(id, by).then(setReport, (e: unknown) => (setReport(null), setError(e)));
  }, [id, by]);

  const option = useMemo(() => (report ? upliftOption(report, { uplift: t('upliftAbs'), ci: t('ci95') }) : null), [report, t]);
  const u = report?.uplift;
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        <Select
          aria-label={t('campaign')}
          placeholder={t('campaign')}
          style={{ width: 320 }}
          value={id}
          onChange={setId}
          options={campaigns.map((c) => ({ value: c.id, label: `${c.name}（${t(`campaignStatus_${c.status}`)}）` }))}
        />
        <Select aria-label={t('breakdownBy')} style={{ width: 140 }} value={by} onChange={setBy} options={BY.map((b) => ({ value: b, label: t(`col_${b}`) }))} />
        <Button disabled={!id} onClick={() => id && api.reportCsv(id, by).catch(setError)}>
          {t('downloadCsv')}
        </Button>
      </Space>
      <Problem error={error} />
      {report && (
        <>
          <Row gutter={16}>
            <Col xs={24} xl={10}>
              <Card size="small" title={report.campaign.name} data-testid="report-summary">
                <Descriptions size="small" column={1} bordered>
                  <Descriptions.Item label={t('targetSize')}>{report.target.size}</Descriptions.Item>
                  <Descriptions.Item label={t('sent')}>{report.target.sent}</Descriptions.Item>
                  <Descriptions.Item label={t('delivered')}>
                    <span data-testid="report-delivered">{report.target.delivered}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('failed')}>{report.target.failed}</Descriptions.Item>
                  <Descriptions.Item label={t('replies')}>{report.target.replies}</Descriptions.Item>
                  <Descriptions.Item label={t('optOuts')}>{report.target.optOuts}</Descriptions.Item>
                  <Descriptions.Item label={t('conversions')}>
                    <span data-testid="report-conversions">{`${report.target.conversions} (${pct(report.target.conversionRate)})`}</span>
                  </Descriptions.Item>
                  <Descriptions.Item label={t('controlConversions')}>{`${report.control.conversions} / ${report.control.size} (${pct(report.control.conversionRate)})`}</Descriptions.Item>
                  <Descriptions.Item label={t('upliftAbs')}>{`${pct(u?.absolute)} ${u?.ci95 ? `[${pct(u.ci95[0])}, ${pct(u.ci95[1])}]` : ''}`}</Descriptions.Item>
                  <Descriptions.Item label="p">{u?.pValue?.toFixed(4) ?? '—'}</Descriptions.Item>
                  <Descriptions.Item label={t('revenue')}>{report.target.revenue.toFixed(2)}</Descriptions.Item>
                </Descriptions>
              </Card>
            </Col>
            <Col xs={24} xl={14}>
              <Card size="small" title={t('upliftBy', t(`col_${by as (typeof BY)[number]}`))}>
                {option && <Chart option={option} label={t('upliftBy', by)} height={320} testId="uplift-chart" />}
              </Card>
            </Col>
          </Row>
          <Table
            size="small"
            style={{ marginTop: 16 }}
            rowKey={(b) => b.key ?? '(null)'}
            dataSource={report.breakdown}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            scroll={{ x: true }}
            columns={[
              { title: t(`col_${by as (typeof BY)[number]}`), dataIndex: 'key', render: (k: string | null) => k ?? '(null)' },
              { title: t('targetSize'), render: (_, b) => b.target.size, align: 'right' },
              { title: t('delivered'), render: (_, b) => b.target.delivered, align: 'right' },
              { title: t('conversions'), render: (_, b) => `${b.target.conversions} (${pct(b.target.conversionRate)})`, align: 'right' },
              { title: t('controlConversions'), render: (_, b) => `${b.control.conversions}/${b.control.size} (${pct(b.control.conversionRate)})`, align: 'right' },
              { title: t('upliftAbs'), render: (_, b) => pct(b.uplift.absolute), align: 'right' },
              { title: t('ci95'), render: (_, b) => (b.uplift.ci95 ? `[${pct(b.uplift.ci95[0])}, ${pct(b.uplift.ci95[1])}]` : '—') },
              { title: 'p', render: (_, b) => b.uplift.pValue?.toFixed(3) ?? '—', align: 'right' },
            ]}
          />
        </>
      )}
    </>
  );
}

function useRange(): [[Dayjs, Dayjs] | null, (r: [Dayjs, Dayjs] | null) => void, { from?: string; to?: string }] {
  const [range, setRange] = useState<[Dayjs, Dayjs] | null>(null);
  return [range, setRange, range ? { from: range[0].format('YYYY-MM-DD'), to: range[1].add(1, 'day').format('YYYY-MM-DD') } : {}];
}

function SendsView() {
  const { t } = useI18n();
  const [by, setBy] = useState('day');
  const [range, setRange, bounds] = useRange();
  const [report, setReport] = useState<SendsReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.sends({ by, ...bounds }).then(setReport, setError);
  }, [by, bounds.from, bounds.to]);
  const option = useMemo<ChartOption | null>(() => {
    if (!report) return null;
    const keys = report.groups.map((g) => g.label ?? g.key ?? '(null)');
    const bar = (name: string, values: number[], color: string) => ({ name, type: 'bar', stack: 'all', data: values, itemStyle: { color } });
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: keys },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        bar(t('delivered'), report.groups.map((g) => g.delivered), '#389e0d'),
        bar(t('failed'), report.groups.map((g) => g.failed), '#cf1322'),
        bar(t('pending'), report.groups.map((g) => g.pending), '#8c8c8c'),
      ],
    };
  }, [report, t]);
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        <Select aria-label={t('groupBy')} style={{ width: 140 }} value={by} onChange={setBy} options={['day', 'gateway', 'error', 'campaign'].map((b) => ({ value: b, label: t(`by_${b as 'day'}`) }))} />
        <DatePicker.RangePicker aria-label={t('dateRange')} value={range} onChange={(v) => setRange(v && v[0] && v[1] ? [v[0], v[1]] : null)} />
        <Button onClick={() => api.sendsCsv({ by, ...bounds }).catch(setError)}>{t('downloadCsv')}</Button>
      </Space>
      <Problem error={error} />
      {option && (
        <Card size="small">
          <Chart option={option} label={t('sendSummary')} height={260} />
        </Card>
      )}
      <Table
        size="small"
        style={{ marginTop: 16 }}
        rowKey={(g) => g.key ?? '(null)'}
        dataSource={report?.groups ?? []}
        pagination={{ pageSize: 31, hideOnSinglePage: true }}
        scroll={{ x: true }}
        columns={[
          { title: t(`by_${by as 'day'}`), render: (_, g) => g.label ?? g.key ?? '(null)' },
          ...(['messages', 'sent', 'delivered', 'failed', 'suppressed', 'capped', 'expired', 'unknown', 'cancelled', 'pending', 'partsSent'] as const).map((k) => ({
            title: t(`s_${k}`),
            dataIndex: k,
            align: 'right' as const,
          })),
          { title: t('deliveryRate'), dataIndex: 'deliveryRate', render: (v: number | null) => pct(v, 1), align: 'right' },
        ]}
      />
    </>
  );
}

function GridsView() {
  const { t } = useI18n();
  const [range, setRange, bounds] = useRange();
  const [report, setReport] = useState<GridsReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.grids(bounds).then(setReport, setError);
  }, [bounds.from, bounds.to]);
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        <DatePicker.RangePicker aria-label={t('dateRange')} value={range} onChange={(v) => setRange(v && v[0] && v[1] ? [v[0], v[1]] : null)} />
        <Button onClick={() => api.gridsCsv(bounds).catch(setError)}>{t('downloadCsv')}</Button>
      </Space>
      <Problem error={error} />
      <Table
        size="small"
        rowKey={(g) => g.gridId ?? '(null)'}
        dataSource={report?.grids ?? []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        scroll={{ x: true }}
        columns={[
          { title: t('col_grid_id'), dataIndex: 'gridId' },
          { title: t('gridName'), dataIndex: 'gridName' },
          { title: t('col_county'), dataIndex: 'county' },
          { title: t('col_city'), dataIndex: 'city' },
          { title: t('campaigns'), dataIndex: 'campaigns', align: 'right' },
          { title: t('s_messages'), dataIndex: 'messages', align: 'right' },
          { title: t('delivered'), dataIndex: 'delivered', align: 'right' },
          { title: t('conversions'), render: (_, g) => `${g.conversions} (${pct(g.conversionRate)})`, align: 'right' },
          { title: t('revenue'), dataIndex: 'revenue', render: (v: number) => v.toFixed(2), align: 'right' },
          { title: t('upliftAbs'), render: (_, g) => (g.uplift ? `${pct(g.uplift.absolute)} ${g.uplift.ci95 ? `[${pct(g.uplift.ci95[0])}, ${pct(g.uplift.ci95[1])}]` : ''}` : '—') },
        ]}
      />
    </>
  );
}
