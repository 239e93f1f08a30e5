import { expect } from 'vitest';
import type { Progress } from '../../src/campaigns/campaign.schemas.js';
import type { Db } from '../../src/db/kysely.js';
import type { SmscSimulator } from '../../src/gateways/simulator/smsc.simulator.js';

export interface LedgerRow {
  seq: number;
  msisdn: string;
  status: string;
  is_control: boolean;
  error_code: string | null;
}

export const PROGRESS_STATES = ['queued', 'sending', 'submitted', 'delivered', 'failed', 'suppressed', 'capped', 'unknown', 'cancelled', 'expired'] as const;
const FINAL_STATES = new Set(['submitted', 'delivered', 'failed', 'suppressed', 'capped', 'unknown', 'cancelled', 'expired']);
// The SMSC certainly took these once; `unknown` may or may not have reached it.
const SENT_STATES = new Set(['submitted', 'delivered']);

export async function ledgerOf(db: Db, campaignId: string): Promise<LedgerRow[]> {
  return (await db
    .selectFrom('message_ledger')
    .select(['seq', 'msisdn', 'status', 'is_control', 'error_code'])
    .where('campaign_id', '=', campaignId)
    .orderBy('seq')
    .execute()) as LedgerRow[];
}

/** Counts of the ledger's target rows by status, computed here rather than by the code under test. */
export function countByStatus(rows: readonly LedgerRow[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) if (!row.is_control) counts[row.status] = (counts[row.status] ?? 0) + 1;
  return counts;
}

/**
 * The reliability contract for a finished campaign: every target recipient is in exactly one final
 * state, the progress counts add up to the total and agree with the ledger, the SMSC saw each
 * number at most once (exactly once when the ledger says submitted, never when it says it was not
 * sent), and no control customer was messaged.
 */
export async function expectEveryRecipientAccounted(
  db: Db,
  campaignId: string,
  simulator: SmscSimulator,
  progress: Progress | null,
): Promise<{ rows: LedgerRow[]; counts: Record<string, number> }> {
  const rows = await ledgerOf(db, campaignId);
  const targets = rows.filter((r) => !r.is_control);
  const counts = countByStatus(rows);
  expect(targets.length).toBeGreaterThan(0);
  expect(progress).not.toBeNull();
  expect(progress!.total).toBe(targets.length);
  expect(progress!.control).toBe(rows.length - targets.length);
  expect(PROGRESS_STATES.reduce((sum, s) => sum + progress![s], 0)).toBe(progress!.total);
  // Receipts keep moving rows from submitted to delivered between the progress read and the ledger
  // read above, so those two are compared together.
  for (const s of PROGRESS_STATES) if (s !== 'submitted' && s !== 'delivered') expect(progress![s], s).toBe(counts[s] ?? 0);
  expect(progress!.submitted + progress!.delivered, 'submitted + delivered').toBe((counts.submitted ?? 0) + (counts.delivered ?? 0));
  for (const row of targets) expect(FINAL_STATES.has(row.status), `${row.seq} is ${row.status}`).toBe(true);
  for (const row of rows) {
    const submits = simulator.submitsFor(row.msisdn);
    if (row.is_control) expect(submits, `control ${row.seq}`).toBe(0);
    else if (SENT_STATES.has(row.status)) expect(submits, `${row.seq} ${row.status}`).toBe(1);
    else if (row.status === 'unknown') expect(submits, `${row.seq} unknown`).toBeLessThanOrEqual(1);
    else expect(submits, `${row.seq} ${row.status}`).toBe(0);
  }
  return { rows, counts };
}
