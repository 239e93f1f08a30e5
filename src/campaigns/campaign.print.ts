import type { FunnelEntry } from '../exclusions/funnel.js';
import { printTable } from '../cli/table.js';
import type { CampaignView, Progress } from './campaign.schemas.js';

/** How the campaign CLI and the demo show campaigns on a terminal. */

type Line = (text: string) => void;
const stdout: Line = (text) => console.log(text);

/** One line naming the campaign and where it stands. */
export function campaignHeadline(view: Pick<CampaignView, 'id' | 'name' | 'status' | 'statusReason'>): string {
  return `campaign ${view.id} "${view.name}": ${view.status}${view.statusReason ? ` (${view.statusReason})` : ''}`;
}

/** The send counts: every target recipient is in exactly one of them; the control group is never messaged. */
export function printProgress(progress: Progress, line: Line = stdout): void {
  const count = (name: keyof Progress) => `${name} ${progress[name]}`;
  line(`  target ${progress.total}, control ${progress.control} (never messaged)`);
  line(`  ${(['queued', 'sending', 'submitted', 'delivered', 'failed'] as const).map(count).join('  ')}`);
  line(`  ${(['suppressed', 'capped', 'unknown', 'cancelled', 'expired'] as const).map(count).join('  ')}`);
}

export function printCampaign(view: CampaignView, line: Line = stdout): void {
  line(campaignHeadline(view));
  line(`  ${view.class} via ${view.gateway}, segment ${view.segmentId}, policy ${view.exclusionPolicy}`);
  line(`  created by ${view.createdBy} at ${view.createdAt}`);
  if (view.approvedBy) line(`  approved by ${view.approvedBy} at ${view.approvedAt}`);
  if (view.launchedBy) line(`  launched by ${view.launchedBy} at ${view.launchedAt}, sending from ${view.sendAt}`);
  if (view.completedAt) line(`  completed at ${view.completedAt}`);
  if (view.progress) printProgress(view.progress, line);
}

export function printCampaignList(views: readonly CampaignView[]): void {
  if (views.length === 0) {
    console.log('no campaigns');
    return;
  }
  printTable(
    ['ID', 'STATUS', 'TARGET', 'SENT', 'CREATED', 'NAME'],
    views.map((v) => [
      v.id,
      v.status,
      v.progress ? String(v.progress.total) : '-',
      v.progress ? String(v.progress.submitted + v.progress.delivered + v.progress.failed) : '-',
      v.createdAt,
      v.name,
    ]),
  );
}

/** The funnel as a table: each step, how many it removed and how many remain, then the split. */
export function printFunnel(run: { funnel: readonly FunnelEntry[]; target: number; control: number }, line: Line = stdout): void {
  const rows = run.funnel.map((entry) =>
    'index' in entry
      ? [`${entry.index}. ${entry.step}`, entry.skipped ? 'skipped' : String(entry.removed), String(entry.remaining)]
      : [entry.step, '', String(entry.remaining)],
  );
  const header = ['step', 'removed', 'remaining'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: readonly string[]) => `  ${cells[0]!.padEnd(widths[0]!)}  ${cells[1]!.padStart(widths[1]!)}  ${cells[2]!.padStart(widths[2]!)}`;
  line(format(header));
  for (const row of rows) line(format(row));
  line(`  → target ${run.target}, control ${run.control} (held out to measure uplift)`);
}

/** The funnel in one line: where it started, the steps that removed anyone, where it ended. */
export function funnelSummary(run: { funnel: readonly FunnelEntry[]; target: number; control: number }): string {
  const first = run.funnel[0];
  const last = run.funnel.at(-1);
  const removing = run.funnel.flatMap((entry) => ('index' in entry && entry.removed > 0 ? [`${entry.step} −${entry.removed}`] : []));
  return [
    `segment ${first?.remaining ?? 0}`,
    removing.length > 0 ? removing.join(', ') : 'no exclusion removed anyone',
    `${last?.remaining ?? 0} eligible`,
    `target ${run.target} + control ${run.control}`,
  ].join(' → ');
}
