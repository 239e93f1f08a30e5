import { useEffect, useMemo, useRef, useState } from 'react';
import { App, Button, Card, Col, Collapse, Input, Row, Space, Table, Typography } from 'antd';
import { api, may, type Condition, type Preview, type Whoami } from '../api';
import { Chart, countsBarOption, type ChartOption } from '../components/Chart';
import { ConditionEditor, type ConditionRefs } from '../components/ConditionEditor';
import { Problem } from '../components/Problem';
import { navigate } from '../components/router';
import { useI18n } from '../i18n';

const DEFAULT_CONDITION: Condition = { all: [{ field: 'brand', op: 'eq', value: 'gotone' }] };
const DRAFT_KEY = 'quanke.builderDraft';

/** Hands a condition to the builder (set operations on the segments page open it here). */
export function openInBuilder(condition: Condition): void {
  // The editor adds conditions to a group, so a single leaf is opened as the one member of one.
  const group = 'all' in condition || 'any' in condition ? condition : { all: [condition] };
  sessionStorage.setItem(DRAFT_KEY, JSON.stringify(group));
  navigate('/segments/new');
}

function initialCondition(): Condition {
  const draft = sessionStorage.getItem(DRAFT_KEY);
  if (!draft) return DEFAULT_CONDITION;
  try {
    return JSON.parse(draft) as Condition;
  } catch {
    return DEFAULT_CONDITION;
  }
}

/** Loads what the editor's pickers offer: the catalog, saved rules, lists and ready segments. */
export function useConditionRefs(): { refs: ConditionRefs | null; error: unknown } {
  const [refs, setRefs] = useState<ConditionRefs | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    Promise.all([api.datasets(), api.rules(), api.lists(), api.segments(undefined, 200)])
      .then(([d, r, l, s]) => setRefs({ catalog: d.datasets, rules: r.rules, lists: l.lists, segments: s.segments }))
      .catch(setError);
  }, []);
  return { refs, error };
}

function brandOption(counts: Record<string, number>, label: (code: string) => string): ChartOption {
  return {
    tooltip: { trigger: 'item' },
    legend: { bottom: 0 },
    series: [
      {
        type: 'pie',
        radius: ['35%', '65%'],
        data: Object.entries(counts).map(([k, v]) => ({ name: label(k), value: v })),
        label: { formatter: '{b}: {c}' },
      },
    ],
  };
}

/** 客户群圈选: edit a condition tree, see the count, breakdown and masked sample follow every change. */
export function SegmentBuilder({ who }: { who: Whoami }) {
  const { t, code } = useI18n();
  const { message } = App.useApp();
  const { refs, error: refsError } = useConditionRefs();
  const [condition, setCondition] = useState<Condition>(initialCondition);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewError, setPreviewError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [name, setName] = useState('');
  const [ruleName, setRuleName] = useState('');
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const asked = useRef(0);

  useEffect(() => {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(condition));
    const mine = ++asked.current;
    setLoading(true);
    // Debounced: typing a value asks once the typing pauses, and only the latest answer is shown.
    const timer = setTimeout(() => {
      api
        .preview(condition)
        .then((p) => {
          if (mine !== asked.current) return;
          setPreview(p);
          setPreviewError(null);
        })
        .catch((e: unknown) => mine === asked.current && setPreviewError(e))
        .finally(() => mine === asked.current && setLoading(false));
    }, 400);
    return () => clearTimeout(timer);
  }, [condition]);

  const cityOption = useMemo(() => countsBarOption(preview?.breakdown.city ?? {}), [preview]);
  const brandChart = useMemo(() => brandOption(preview?.breakdown.brand ?? {}, (c) => code('brand', c)), [preview, code]);

  const saveSegment = async () => {
    setSaving(true);
    setSaveError(null);
    try {
      const segment = await api.createSegment(name.trim(), condition);
      message.success(t('segmentSaved', String(segment.count ?? 0)));
      navigate(`/segments?highlight=${segment.id}`);
    } catch (e) {
      setSaveError(e);
    } finally {
      setSaving(false);
    }
  };

  const saveRule = async () => {
    setSaveError(null);
    try {
      await api.saveRule(ruleName.trim(), { description: name.trim(), condition });
      message.success(t('ruleSaved'));
    } catch (e) {
      setSaveError(e);
    }
  };

  const sampleColumns = ['customer_id', 'msisdn', 'name', 'city', 'brand', 'arpu', 'age'].map((c) => ({
    title: refs?.catalog.find((d) => d.name === 'customers')?.columns.find((col) => col.name === c)?.label ?? c,
    dataIndex: c,
    key: c,
    ...(c === 'brand' ? { render: (v: string | null) => (v ? code('brand', v) : '') } : {}),
  }));

  return (
    <Row gutter={16}>
      <Col xs={24} xl={13}>
        <Card title={t('conditionTree')} size="small">
          <Problem error={refsError} />
          {refs ? (
            <ConditionEditor value={condition} onChange={setCondition} refs={refs} dataset="customers" path="condition" />
          ) : (
            <Typography.Text>{t('loading')}</Typography.Text>
          )}
          <Collapse
            ghost
            size="small"
            style={{ marginTop: 8 }}
            items={[{ key: 'json', label: t('showJson'), children: <pre style={{ fontSize: 12, margin: 0 }}>{JSON.stringify(condition, null, 2)}</pre> }]}
          />
          <Space style={{ marginTop: 8 }}>
            <Button onClick={() => setCondition(DEFAULT_CONDITION)}>{t('reset')}</Button>
          </Space>
        </Card>
        <Card title={t('save')} size="small" style={{ marginTop: 16 }}>
          <Problem error={saveError} onClose={() => setSaveError(null)} />
          <Space wrap>
            <Input aria-label={t('segmentName')} placeholder={t('segmentName')} value={name} onChange={(e) => setName(e.target.value)} style={{ width: 260 }} data-testid="segment-name" />
            <Button type="primary" onClick={saveSegment} loading={saving} disabled={!name.trim()} data-testid="save-segment">
              {t('saveSegment')}
            </Button>
          </Space>
          {may(who.role, 'analyst') && (
            <Space wrap style={{ marginTop: 8 }}>
              <Input aria-label={t('ruleName')} placeholder={t('ruleNameHint')} value={ruleName} onChange={(e) => setRuleName(e.target.value)} style={{ width: 260 }} />
              <Button onClick={saveRule} disabled={!ruleName.trim()}>
                {t('saveRule')}
              </Button>
            </Space>
          )}
        </Card>
      </Col>
      <Col xs={24} xl={11}>
        <Card size="small" title={t('liveCount')} extra={loading ? t('counting') : preview ? `${preview.elapsedMs} ms` : ''}>
          <Problem error={previewError} />
          <div className="big-count" data-testid="preview-count" aria-live="polite" data-loading={loading ? 'true' : 'false'}>
            {preview ? preview.count.toLocaleString() : '—'}
          </div>
          <Typography.Text type="secondary">{t('customers')}</Typography.Text>
        </Card>
        <Card size="small" title={t('byCity')} style={{ marginTop: 16 }}>
          <Chart option={cityOption} label={t('byCity')} height={260} />
        </Card>
        <Card size="small" title={t('byBrand')} style={{ marginTop: 16 }}>
          <Chart option={brandChart} label={t('byBrand')} height={220} />
        </Card>
        <Card size="small" title={t('sample')} style={{ marginTop: 16 }}>
          <Table size="small" rowKey="customer_id" pagination={false} scroll={{ x: true }} dataSource={preview?.sample ?? []} columns={sampleColumns} />
        </Card>
      </Col>
    </Row>
  );
}
