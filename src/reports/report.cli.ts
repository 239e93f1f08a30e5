import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import { printTable } from '../cli/table.js';
import { SYSTEM_ACTOR } from '../security/roles.js';
import type { CampaignReport } from './report.schemas.js';

const USAGE = 'report campaign <id> [--by city]';

function parseRequest(args: string[]): { id: string; by?: string } {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { by: { type: 'string' } } });
  const [what, id] = positionals;
  if (what !== 'campaign' || !id) throw new Error(`usage: ${USAGE}`);
  return { id, ...(values.by ? { by: values.by } : {}) };
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const signedPct = (v: number | null) => (v === null ? '-' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}pt`);
const money = (v: number) => v.toFixed(2);
const p = (v: number | null) => (v === null ? '-' : v < 0.0001 ? '<0.0001' : v.toFixed(4));

type Figures = Pick<CampaignReport['breakdown'][number], 'target' | 'control' | 'uplift'>;

function row(label: string, f: Figures): string[] {
  const { target: t, control: c, uplift: u } = f;
  return [
    label, String(t.size), String(t.sent), String(t.delivered), String(t.failed), String(t.replies), String(t.optOuts),
    String(t.conversions), pct(t.conversionRate), money(t.revenue), String(c.size), String(c.conversions), pct(c.conversionRate),
    signedPct(u.absolute), p(u.pValue),
  ];
}

/** The report as an analyst reads it on a terminal: the headline, then one line per group. */
export function printCampaignReport(report: CampaignReport): void {
  const { campaign, uplift, cost } = report;
  console.log(`campaign ${campaign.id} "${campaign.name}" (${campaign.status}), product ${campaign.productId ?? '-'}, attribution ${report.attributionDays} days`);
  const ci = uplift.ci95 ? `[${signedPct(uplift.ci95[0])}, ${signedPct(uplift.ci95[1])}]` : '-';
  console.log(`uplift ${signedPct(uplift.absolute)} (relative ${uplift.relative === null ? '-' : pct(uplift.relative)}), z ${uplift.z?.toFixed(3) ?? '-'}, p ${p(uplift.pValue)}, 95% CI ${ci}`);
  if (cost) console.log(`cost ${money(cost.total)} for ${cost.parts} parts; per conversion ${cost.perConversion === null ? '-' : money(cost.perConversion)}`);
  const failed = Object.entries(report.target.failedByError).map(([code, n]) => `${code || '(none)'} ${n}`);
  if (failed.length > 0) console.log(`failed by error: ${failed.join(', ')}`);
  console.log('');
  const header = [report.by ?? 'group', 'target', 'sent', 'delivered', 'failed', 'replies', 'opt-outs', 'conv', 'rate', 'revenue', 'control', 'conv', 'rate', 'uplift', 'p'];
  const rows = report.breakdown.map((g) => row(g.key ?? '(none)', g));
  rows.push(row('total', report));
  printTable(header, rows);
}

/**
 * `npm run quanke -- report campaign <id> [--by city]`: the effectiveness report as a table, through
 * the running API (which owns the warehouse) or, with none up, on the warehouse directly.
 */
export const reportCommand: CliCommand = {
  summary: 'print a campaign effectiveness report',
  usage: USAGE,
  needs: 'warehouse',
  async run(args, container) {
    const { id, by } = parseRequest(args);
    printCampaignReport(await container.reports.campaignReport(id, by, SYSTEM_ACTOR.role));
  },
  async runViaApi(args, api) {
    const { id, by } = parseRequest(args);
    const query = by ? `?by=${encodeURIComponent(by)}` : '';
    printCampaignReport(await api.json<CampaignReport>('GET', `/v1/campaigns/${encodeURIComponent(id)}/report${query}`));
  },
};
