import { sql, type Kysely } from 'kysely';
import type { Database, LedgerStatus } from '../db/schema.js';

/**
 * The message ledger's queries: one function, one statement. Every status change is guarded by
 * the status it leaves, so a retried or duplicated job can never move a row twice. Ranges of `seq`
 * (dense per campaign, targets first) address batches, so claims walk the primary key.
 */

export interface ClaimedMessage {
  seq: number;
  customerId: number;
  msisdn: string;
  vars: Record<string, unknown> | null;
}

/** The partition that holds one campaign's ledger (campaign ids are UUIDs; dashes dropped). */
export function ledgerPartition(campaignId: string): string {
  const compact = campaignId.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(compact)) throw new Error(`not a uuid: ${campaignId}`);
  return `message_ledger_${compact}`;
}

/**
 * `queued → sending` for the rows of [fromSeq, toSeq) still queued; what another worker took is
 * skipped. A statement fragment, so the sender can run it together with its checks (chunk.repository.ts).
 */
export function claimStatement(campaignId: string, fromSeq: number, toSeq: number) {
  return sql`
    UPDATE message_ledger SET status = 'sending', claimed_at = now()
    WHERE campaign_id = ${campaignId} AND seq >= ${fromSeq} AND seq < ${toSeq} AND status = 'queued'
    RETURNING seq, customer_id, msisdn, vars`;
}

export async function claimRange(db: Kysely<Database>, campaignId: string, fromSeq: number, toSeq: number): Promise<ClaimedMessage[]> {
  const result = await sql<{ seq: number; customer_id: string; msisdn: string; vars: Record<string, unknown> | null }>`${claimStatement(campaignId, fromSeq, toSeq)}`.execute(
    db,
  );
  return result.rows
    .map((r) => ({ seq: r.seq, customerId: Number(r.customer_id), msisdn: r.msisdn, vars: r.vars }))
    .sort((a, b) => a.seq - b.seq);
}

/** Where a claimed message ended up after one submit attempt. */
export type MessageOutcome =
  | { seq: number; status: 'submitted'; parts: number }
  | { seq: number; status: 'failed' | 'unknown'; parts: number; errorCode: string }
  | { seq: number; status: 'suppressed' | 'capped' | 'cancelled' }
  /** Certainly not sent (the gateway said retry, or it was never submitted): owed again. */
  | { seq: number; status: 'queued' };

/**
 * Records a chunk's outcomes; only rows still `sending` change. A row owed again (`queued`) of a
 * campaign cancelled meanwhile is `cancelled`: the cancel only reached rows that were queued when
 * it ran. A statement fragment (returning the changed seqs), so the sender can write it together
 * with the parts and contacts of the chunk (chunk.repository.ts).
 */
export function outcomeStatement(campaignId: string, outcomes: readonly MessageOutcome[]) {
  return sql`
    UPDATE message_ledger l SET
      status = o.status,
      parts = o.parts,
      error_code = o.error_code,
      claimed_at = CASE WHEN o.status = 'queued' THEN NULL ELSE l.claimed_at END,
      submitted_at = CASE WHEN o.status IN ('submitted', 'unknown') THEN now() END,
      final_at = CASE WHEN o.status IN ('failed', 'suppressed', 'capped', 'unknown', 'cancelled') THEN now() END
    FROM (
      SELECT v.seq, v.parts, v.error_code,
        CASE WHEN v.status = 'queued' AND EXISTS (SELECT 1 FROM campaigns WHERE id = ${campaignId} AND status = 'cancelled')
          THEN 'cancelled' ELSE v.status END AS status
      FROM unnest(
        ${outcomes.map((o) => o.seq)}::int[],
        ${outcomes.map((o) => o.status)}::text[],
        ${outcomes.map((o) => ('parts' in o ? o.parts : null))}::int2[],
        ${outcomes.map((o) => ('errorCode' in o ? o.errorCode : null))}::text[]
      ) AS v(seq, status, parts, error_code)
    ) o
    WHERE l.campaign_id = ${campaignId} AND l.seq = o.seq AND l.status = 'sending'
    RETURNING l.seq`;
}

/** Records a chunk's outcomes alone (the bench's ledger ceiling); returns rows changed. */
export async function recordOutcomes(db: Kysely<Database>, campaignId: string, outcomes: readonly MessageOutcome[]): Promise<number> {
  if (outcomes.length === 0) return 0;
  const result = await sql`${outcomeStatement(campaignId, outcomes)}`.execute(db);
  return result.rows.length;
}

export interface SubmittedPart {
  gateway: string;
  gatewayMessageId: string;
  seq: number;
  part: number;
}

/** Gateway message ids of submitted parts, so receipts find their message (a statement fragment). */
export function partsStatement(campaignId: string, parts: readonly SubmittedPart[]) {
  return sql`
    INSERT INTO message_parts (gateway, gateway_message_id, campaign_id, seq, part, submitted_at)
    SELECT g, id, ${campaignId}::uuid, s, p, now()
    FROM unnest(${parts.map((p) => p.gateway)}::text[], ${parts.map((p) => p.gatewayMessageId)}::text[],
                ${parts.map((p) => p.seq)}::int[], ${parts.map((p) => p.part)}::int2[]) AS v(g, id, s, p)
    ON CONFLICT (gateway, gateway_message_id) DO NOTHING`;
}

export type StatusCounts = Record<LedgerStatus, number>;

export interface LedgerScan {
  counts: StatusCounts;
  /** Messages submitted in the last `rateWindowSeconds`. */
  recentlySubmitted: number;
  /** Batch numbers that still hold queued rows. */
  owedBatches: number[];
}

const EMPTY_COUNTS: StatusCounts = {
  control: 0,
  queued: 0,
  sending: 0,
  submitted: 0,
  delivered: 0,
  failed: 0,
  suppressed: 0,
  capped: 0,
  unknown: 0,
  cancelled: 0,
  expired: 0,
};

/**
 * One pass over a campaign's partition: counts by status, the recent submit rate and (when
 * `batchSize` is given) the batches still owed. No index on status is the price of HOT updates;
 * a partition scan is ~100 ms per million rows, paid by progress and the reconciler, not per message.
 */
export async function scanLedger(
  db: Kysely<Database>,
  campaignId: string,
  options: { batchSize?: number; rateWindowSeconds?: number } = {},
): Promise<LedgerScan> {
  const window = options.rateWindowSeconds ?? 10;
  const owed = options.batchSize
    ? sql`coalesce(array_agg(DISTINCT seq / ${options.batchSize}) FILTER (WHERE status = 'queued'), '{}')`
    : sql`'{}'::int[]`;
  const result = await sql<{ status: LedgerStatus; n: number; recent: number; owed: number[] }>`
    SELECT status, count(*)::int AS n,
      count(*) FILTER (WHERE submitted_at > now() - make_interval(secs => ${window}))::int AS recent,
      ${owed} AS owed
    FROM message_ledger WHERE campaign_id = ${campaignId} GROUP BY status`.execute(db);
  const counts = { ...EMPTY_COUNTS };
  let recentlySubmitted = 0;
  const owedBatches = new Set<number>();
  for (const row of result.rows) {
    counts[row.status] = row.n;
    recentlySubmitted += row.recent;
    for (const b of row.owed) owedBatches.add(b);
  }
  return { counts, recentlySubmitted, owedBatches: [...owedBatches].sort((a, b) => a - b) };
}

/** Rows a crashed worker left `sending` become `unknown`: they may have been sent, so never resent. */
export async function markStaleSendingUnknown(db: Kysely<Database>, campaignId: string, olderThanSeconds: number): Promise<number> {
  const result = await sql`
    UPDATE message_ledger SET status = 'unknown', error_code = 'WORKER_LOST', final_at = now()
    WHERE campaign_id = ${campaignId} AND status = 'sending' AND claimed_at < now() - make_interval(secs => ${olderThanSeconds})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Cancel: whatever is still owed is never sent. */
export async function cancelQueued(db: Kysely<Database>, campaignId: string): Promise<number> {
  const result = await sql`
    UPDATE message_ledger SET status = 'cancelled', final_at = now()
    WHERE campaign_id = ${campaignId} AND status = 'queued'`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export interface LedgerExportRow {
  seq: number;
  customer_id: number;
  msisdn: string;
  status: LedgerStatus;
  error_code: string | null;
  submitted_at: Date | null;
}

/** One page of a group's recipients in seq order, for the CSV export. */
export async function ledgerPage(
  db: Kysely<Database>,
  campaignId: string,
  group: 'target' | 'control',
  afterSeq: number,
  limit: number,
): Promise<LedgerExportRow[]> {
  return db
    .selectFrom('message_ledger')
    .select(['seq', 'customer_id', 'msisdn', 'status', 'error_code', 'submitted_at'])
    .where('campaign_id', '=', campaignId)
    .where('is_control', '=', group === 'control')
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute() as Promise<LedgerExportRow[]>;
}
