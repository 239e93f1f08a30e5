import { useMemo, useState } from 'react';
import { Alert, Descriptions, Input, Space } from 'antd';
import { api, type Explain, type TargetingRun } from '../api';
import { Chart, type ChartOption } from './Chart';
import { Problem } from './Problem';
import { useI18n } from '../i18n';

type FunnelView = Pick<TargetingRun, 'funnel' | 'target' | 'control'>;

/** The exclusion funnel as a chart (what each step removed, what remained), with target and control. */
export function FunnelChart({ run }: { run: FunnelView }) {
  const { t } = useI18n();
  const option = useMemo<ChartOption>(() => {
    const steps = run.funnel.map((f) => ('index' in f ? `${f.index}. ${f.step}` : t('funnelSegment')));
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 8, right: 48, top: 28, bottom: 8, containLabel: true },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', data: [...steps, t('funnelTarget')].reverse() },
      series: [
        {
          name: t('remaining'),
          type: 'bar',
          stack: 'all',
          itemStyle: { color: '#1668dc' },
          label: { show: true, position: 'insideRight', color: '#fff' },
          data: [...run.funnel.map((f) => f.remaining), run.target].reverse(),
        },
        {
          name: t('removed'),
          type: 'bar',
          stack: 'all',
          itemStyle: { color: '#ff7875' },
          label: { show: true, position: 'right', formatter: (p: { value: number }) => (p.value ? `−${p.value}` : '') },
          data: [...run.funnel.map((f) => ('removed' in f ? f.removed : 0)), run.control].reverse(),
        },
      ],
    };
  }, [run, t]);
  return (
    <>
      <Chart option={option} label={t('funnel')} height={Math.max(220, 36 * (run.funnel.length + 1))} testId="funnel-chart" />
      <Space size="large">
        <span data-testid="funnel-target">
          {t('funnelTarget')}: <strong>{run.target}</strong>
        </span>
        <span>
          {t('control')}: <strong>{run.control}</strong>
        </span>
      </Space>
    </>
  );
}

/** Why one number is in the target, in control, or which step removed it (operators). */
export function ExplainNumber({ campaignId }: { campaignId: string }) {
  const { t } = useI18n();
  const [answer, setAnswer] = useState<Explain | null>(null);
  const [error, setError] = useState<unknown>(null);
  const ask = async (msisdn: string) => {
    if (!msisdn.trim()) return;
    setError(null);
    try {
      setAnswer(await api.explain(campaignId, msisdn.trim()));
    } catch (e) {
      setAnswer(null);
      setError(e);
    }
  };
  return (
    <div style={{ marginTop: 12 }}>
      <Input.Search aria-label={t('explainNumber')} placeholder={t('explainNumber')} enterButton={t('explain')} onSearch={ask} style={{ maxWidth: 360 }} />
      <Problem error={error} />
      {answer && (
        <Alert
          style={{ marginTop: 8 }}
          type={answer.outcome === 'target' ? 'success' : answer.outcome === 'control' ? 'info' : 'warning'}
          title={`${answer.msisdn}: ${t(`outcome_${answer.outcome}`)}`}
          description={
            <Descriptions size="small" column={1}>
              <Descriptions.Item label={t('explanation')}>{answer.explanation}</Descriptions.Item>
              {answer.step && <Descriptions.Item label={t('step')}>{`${answer.step.index}. ${answer.step.name}`}</Descriptions.Item>}
            </Descriptions>
          }
        />
      )}
    </div>
  );
}
