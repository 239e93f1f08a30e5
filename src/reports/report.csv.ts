import type { CampaignReport, GridsReport, SendsReport } from './report.schemas.js';

type Cell = string | number | null | undefined;

/** RFC 4180 quoting; numbers as written, null and undefined as empty fields. */
function cell(value: Cell): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

type Figures = Pick<CampaignReport, 'target' | 'control' | 'uplift'> | CampaignReport['breakdown'][number];

const CAMPAIGN_HEADER = [
  'group', 'key',
  'target_size', 'sent', 'delivered', 'failed', 'suppressed', 'capped', 'expired', 'unknown', 'cancelled', 'pending',
  'replies', 'opt_outs', 'target_conversions', 'target_orders', 'target_rate', 'target_revenue',
  'control_size', 'control_conversions', 'control_orders', 'control_rate', 'control_revenue',
  'uplift_absolute', 'uplift_relative', 'z', 'p_value', 'ci95_low', 'ci95_high',
];

function figureCells(f: Figures): Cell[] {
  const { target: t, control: c, uplift: u } = f;
  return [
    t.size, t.sent, t.delivered, t.failed, t.suppressed, t.capped, t.expired, t.unknown, t.cancelled, t.pending,
    t.replies, t.optOuts, t.conversions, t.orders, t.conversionRate, t.revenue,
    c.size, c.conversions, c.orders, c.conversionRate, c.revenue,
    u.absolute, u.relative, u.z, u.pValue, u.ci95?.[0], u.ci95?.[1],
  ];
}

/** The totals row, then one row per breakdown group (`group` = the `by` column). */
export function campaignReportCsv(report: CampaignReport): string {
  const rows: Cell[][] = [['total', null, ...figureCells(report)]];
  for (const g of report.breakdown) rows.push([report.by, g.key, ...figureCells(g)]);
  return toCsv(CAMPAIGN_HEADER, rows);
}

export function sendsReportCsv(report: SendsReport): string {
  return toCsv(
    [report.by, 'label', 'messages', 'sent', 'delivered', 'failed', 'expired', 'suppressed', 'capped', 'unknown', 'cancelled', 'pending', 'parts_sent', 'delivery_rate'],
    report.groups.map((g) => [
      g.key, g.label, g.messages, g.sent, g.delivered, g.failed, g.expired, g.suppressed, g.capped, g.unknown, g.cancelled, g.pending, g.partsSent, g.deliveryRate,
    ]),
  );
}

export function gridsReportCsv(report: GridsReport): string {
  return toCsv(
    [
      'grid_id', 'grid_name', 'county', 'city', 'campaigns', 'messages', 'sent', 'delivered', 'conversions', 'conversion_rate', 'revenue',
      'control_size', 'control_conversions', 'control_rate', 'uplift_absolute', 'uplift_relative', 'z', 'p_value', 'ci95_low', 'ci95_high',
    ],
    report.grids.map((g) => [
      g.gridId, g.gridName, g.county, g.city, g.campaigns, g.messages, g.sent, g.delivered, g.conversions, g.conversionRate, g.revenue,
      g.control.size, g.control.conversions, g.control.conversionRate,
      g.uplift?.absolute, g.uplift?.relative, g.uplift?.z, g.uplift?.pValue, g.uplift?.ci95?.[0], g.uplift?.ci95?.[1],
    ]),
  );
}
