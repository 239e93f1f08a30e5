import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, FunnelChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent, AriaComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption } from 'echarts/core';

// Only what the console draws, so the bundle carries a fraction of ECharts.
echarts.use([BarChart, CustomChart, FunnelChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, AriaComponent, CanvasRenderer]);

export type ChartOption = EChartsCoreOption;

/**
 * One ECharts canvas. `label` names the chart for screen readers (the canvas itself says nothing);
 * the option is applied whole on every change, without animation so screenshots and tests see
 * the final picture.
 */
export function Chart({ option, label, height = 280, testId }: { option: ChartOption; label: string; height?: number; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    if (!ref.current) return;
    const instance = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.current = instance;
    const resize = () => instance.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ animation: false, aria: { enabled: true }, ...option }, { notMerge: true });
  }, [option]);

  return <div ref={ref} role="img" aria-label={label} data-testid={testId} style={{ width: '100%', height }} />;
}

/** A horizontal bar chart of `{name: count}`, largest first. */
export function countsBarOption(counts: Record<string, number>, top = 15): ChartOption {
  const entries = Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .reverse();
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: entries.map(([k]) => k) },
    series: [{ type: 'bar', data: entries.map(([, v]) => v), itemStyle: { color: '#1677ff' }, label: { show: true, position: 'right' } }],
  };
}
