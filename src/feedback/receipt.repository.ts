import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Delivery receipts against the ledger: one function, one statement, each over a whole batch
 * (unnest of bound arrays, so the 65,535 bind-parameter limit never comes near).
 */

/** The final states a receipt can report; every other one (ACCEPTD, ENROUTE) is intermediate. */
export const DELIVERED_STATUS = 'DELIVRD';
export const FAILED_STATUSES = ['UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'UNKNOWN'] as const;
export const FINAL_STATUSES: readonly string[] = [DELIVERED_STATUS, ...FAILED_STATUSES];
export const RECEIPT_STATUSES = [DELIVERED_STATUS, ...FAILED_STATUSES, 'ACCEPTD', 'ENROUTE'] as const;
export type ReceiptStatusName = (typeof RECEIPT_STATUSES)[number];

export function isFinalStatus(status: string): boolean {
  return FINAL_STATUSES.includes(status);
}

export interface NewReceipt {
  gateway: string;
  gatewayMessageId: string;
  status: string;
  errorCode: string | null;
  doneAt: Date | null;
  receivedAt: Date;
}

/** Stores receipts as reported; returns their ids in input order. */
export async function insertReceipts(db: Kysely<Database>, receipts: readonly NewReceipt[]): Promise<number[]> {
  if (receipts.length === 0) return [];
  const result = await sql<{ id: number }>`
    INSERT INTO gateway_receipts (gateway, gateway_message_id, status, error_code, done_at, received_at)
    SELECT g, m, s, e, d, r FROM unnest(
      ${receipts.map((r) => r.gateway)}::text[],
      ${receipts.map((r) => r.gatewayMessageId)}::text[],
      ${receipts.map((r) => r.status)}::text[],
      ${receipts.map((r) => r.errorCode)}::text[],
      ${receipts.map((r) => r.doneAt?.toISOString() ?? null)}::timestamptz[],
      ${receipts.map((r) => r.receivedAt.toISOString())}::timestamptz[]) WITH ORDINALITY AS v(g, m, s, e, d, r, n)
    ORDER BY n
    RETURNING id`.execute(db);
  return result.rows.map((r) => r.id);
}

/**
 * The batch statements below probe a few thousand rows of tables of millions by index. Told the
 * batch's true size (the bound arrays are planned as constants), the planner preferred hash joins
 * over whole scans of the ledger partition and message_parts, and compiled them with JIT: measured
 * (bench/feedback.bench.ts, 850,000 messages) 1.9 s for one 10,000-receipt outcome statement, 0.7 s
 * of it JIT, against 0.6 s by index probes; and whole scans grow with the tables, not the batch.
 * For the apply transaction only: nested loops, no JIT.
 */
export async function planForIndexProbes(trx: Kysely<Database>): Promise<void> {
  await sql`SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`.execute(trx);
}

/** A receipt taken for processing, with the message its gateway id belongs to (none yet: null). */
export interface ClaimedReceipt {
  id: number;
  status: string;
  campaignId: string | null;
  seq: number | null;
}

/**
 * Stamps pending receipts processed and returns them joined to their message parts: the oldest
 * `limit` due ones, or exactly `ids` (those still pending). The caller holds the receipt lock, so
 * no other process claims the same rows; what turns out unmatched is handed back by `deferReceipts`
 * or `deadLetterReceipts` in the same transaction.
 */
export async function claimReceipts(db: Kysely<Database>, which: { limit: number } | { ids: readonly number[] }): Promise<ClaimedReceipt[]> {
  const pending =
    'ids' in which
      ? sql`${[...which.ids]}::bigint[]`
      : sql`ARRAY(SELECT id FROM gateway_receipts WHERE applied_at IS NULL AND (retry_at IS NULL OR retry_at <= now())
            ORDER BY id LIMIT ${which.limit})`;
  const result = await sql<{ id: number; status: string; campaign_id: string | null; seq: number | null }>`
    WITH claimed AS (
      UPDATE gateway_receipts r SET applied_at = now()
      WHERE r.id = ANY(${pending}) AND r.applied_at IS NULL
      RETURNING r.id, r.gateway, r.gateway_message_id, r.status)
    SELECT c.id, c.status, p.campaign_id, p.seq
    FROM claimed c LEFT JOIN message_parts p ON p.gateway = c.gateway AND p.gateway_message_id = c.gateway_message_id`.execute(db);
  return result.rows.map((r) => ({ id: r.id, status: r.status, campaignId: r.campaign_id, seq: r.seq }));
}

export interface LedgerChanges {
  delivered: number;
  failed: number;
}

/**
 * Recomputes the outcome of a campaign's messages from every final receipt stored for their parts
 * and moves the ledger rows still `submitted` (or `unknown`) to it: delivered when every part has
 * DELIVRD, failed as soon as one part reports a failure (its code, or its status when the gateway
 * gave none). Each part counts its first final receipt only, so a late or repeated receipt changes
 * nothing, and a final row never moves again (the guard on the status it leaves).
 */
export async function applyMessageOutcomes(db: Kysely<Database>, campaignId: string, seqs: readonly number[]): Promise<LedgerChanges> {
  if (seqs.length === 0) return { delivered: 0, failed: 0 };
  const result = await sql<LedgerChanges>`
    WITH parts AS (
      SELECT p.seq, p.part, f.status, f.error_code, f.done_at
      FROM message_parts p
      LEFT JOIN LATERAL (
        SELECT r.status, r.error_code, r.done_at FROM gateway_receipts r
        WHERE r.gateway = p.gateway AND r.gateway_message_id = p.gateway_message_id AND r.status = ANY(${FINAL_STATUSES}::text[])
        ORDER BY r.id LIMIT 1) f ON true
      WHERE p.campaign_id = ${campaignId} AND p.seq = ANY(${[...new Set(seqs)]}::int[])
    ), outcomes AS (
      SELECT seq,
        CASE WHEN count(*) FILTER (WHERE status <> ${DELIVERED_STATUS}) > 0 THEN 'failed'
             WHEN count(*) FILTER (WHERE status = ${DELIVERED_STATUS}) = count(*) THEN 'delivered' END AS status,
        (array_agg(coalesce(error_code, status) ORDER BY part) FILTER (WHERE status <> ${DELIVERED_STATUS}))[1] AS error_code,
        max(done_at) AS done_at
      FROM parts GROUP BY seq
    ), updated AS (
      UPDATE message_ledger l SET status = o.status, error_code = o.error_code, final_at = coalesce(o.done_at, now())
      FROM outcomes o
      WHERE l.campaign_id = ${campaignId} AND l.seq = o.seq AND o.status IS NOT NULL AND l.status IN ('submitted', 'unknown')
      RETURNING l.status)
    SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*) FILTER (WHERE status = 'failed')::int AS failed
    FROM updated`.execute(db);
  return result.rows[0] ?? { delivered: 0, failed: 0 };
}

/**
 * Unmatched receipts: those received more than `graceSeconds` ago go to the dead letters (and stay
 * processed); the others are pending again, tried from `retryAfterSeconds` on. Returns how many
 * went to the dead letters.
 */
export async function settleUnmatched(
  db: Kysely<Database>,
  ids: readonly number[],
  options: { graceSeconds: number; retryAfterSeconds: number },
): Promise<{ deadLettered: number; deferred: number }> {
  if (ids.length === 0) return { deadLettered: 0, deferred: 0 };
  const result = await sql<{ dead: number; deferred: number }>`
    WITH dead AS (
      INSERT INTO feedback_dead_letters (receipt_id, gateway, gateway_message_id, status, error_code, done_at, received_at, reason)
      SELECT id, gateway, gateway_message_id, status, error_code, done_at, received_at, 'unknown gateway message id'
      FROM gateway_receipts
      WHERE id = ANY(${[...ids]}::bigint[]) AND received_at <= now() - make_interval(secs => ${options.graceSeconds})
      ON CONFLICT (receipt_id) DO NOTHING
      RETURNING receipt_id
    ), deferred AS (
      UPDATE gateway_receipts SET applied_at = NULL, retry_at = now() + make_interval(secs => ${options.retryAfterSeconds})
      WHERE id = ANY(${[...ids]}::bigint[]) AND received_at > now() - make_interval(secs => ${options.graceSeconds})
      RETURNING id)
    SELECT (SELECT count(*) FROM dead)::int AS dead, (SELECT count(*) FROM deferred)::int AS deferred`.execute(db);
  const row = result.rows[0]!;
  return { deadLettered: row.dead, deferred: row.deferred };
}

/** Campaigns whose sends may have outlived the receipt expiry and are not closed yet. */
export async function campaignsWithOverdueSends(
  db: Kysely<Database>,
  expiryHours: number,
): Promise<Array<{ id: string; status: string }>> {
  const result = await sql<{ id: string; status: string }>`
    SELECT id, status FROM campaigns
    WHERE launched_at IS NOT NULL AND receipts_closed_at IS NULL
      AND launched_at < now() - make_interval(secs => ${expiryHours * 3600})
    ORDER BY launched_at`.execute(db);
  return result.rows;
}

/**
 * `submitted → expired` for a campaign's messages with no final receipt after `expiryHours`;
 * `remaining` counts those still submitted (too recent to expire).
 */
export async function expireOverdueMessages(
  db: Kysely<Database>,
  campaignId: string,
  expiryHours: number,
): Promise<{ expired: number; remaining: number }> {
  const result = await sql<{ expired: number; submitted: number }>`
    WITH expired AS (
      UPDATE message_ledger SET status = 'expired', error_code = 'NO_RECEIPT', final_at = now()
      WHERE campaign_id = ${campaignId} AND status = 'submitted'
        AND submitted_at < now() - make_interval(secs => ${expiryHours * 3600})
      RETURNING 1)
    SELECT (SELECT count(*) FROM expired)::int AS expired,
      (SELECT count(*) FROM message_ledger WHERE campaign_id = ${campaignId} AND status = 'submitted')::int AS submitted`.execute(db);
  const row = result.rows[0]!;
  // The second count reads the statement's snapshot, in which the expired rows were still submitted.
  return { expired: row.expired, remaining: row.submitted - row.expired };
}

/** A campaign that will send nothing more and has nothing left `submitted`: later expiry passes skip it. */
export async function closeReceipts(db: Kysely<Database>, campaignId: string): Promise<void> {
  await sql`UPDATE campaigns SET receipts_closed_at = now() WHERE id = ${campaignId} AND receipts_closed_at IS NULL`.execute(db);
}

export interface DeadLetterRow {
  receiptId: number;
  gateway: string;
  gatewayMessageId: string;
  status: string;
  errorCode: string | null;
  doneAt: Date | null;
  receivedAt: Date;
  reason: string;
  deadAt: Date;
}

/** Newest first; `before` is the last row of the previous page. */
export async function deadLetterPage(
  db: Kysely<Database>,
  options: { limit: number; gateway?: string; before?: { deadAt: Date; receiptId: number } },
): Promise<DeadLetterRow[]> {
  let query = db
    .selectFrom('feedback_dead_letters')
    .selectAll()
    .orderBy('dead_at', 'desc')
    .orderBy('receipt_id', 'desc')
    .limit(options.limit);
  if (options.gateway !== undefined) query = query.where('gateway', '=', options.gateway);
  const before = options.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('dead_at', '<', before.deadAt), eb.and([eb('dead_at', '=', before.deadAt), eb('receipt_id', '<', before.receiptId)])]),
    );
  }
  const rows = await query.execute();
  return rows.map((r) => ({
    receiptId: Number(r.receipt_id),
    gateway: r.gateway,
    gatewayMessageId: r.gateway_message_id,
    status: r.status,
    errorCode: r.error_code,
    doneAt: r.done_at,
    receivedAt: r.received_at,
    reason: r.reason,
    deadAt: r.dead_at,
  }));
}

export interface FeedbackBacklog {
  pendingReceipts: number;
  /** Pending receipts whose message id was not known at the last try. */
  awaitingSubmit: number;
  oldestPendingReceiptAt: Date | null;
  deadLetters: number;
  pendingReplies: number;
  oldestPendingReplyAt: Date | null;
}

/** What is waiting; both pending sets are read through their partial indexes. */
export async function feedbackBacklog(db: Kysely<Database>): Promise<FeedbackBacklog> {
  const result = await sql<{
    pending_receipts: number;
    awaiting_submit: number;
    oldest_receipt: Date | null;
    dead_letters: number;
    pending_replies: number;
    oldest_reply: Date | null;
  }>`
    SELECT
      (SELECT count(*) FROM gateway_receipts WHERE applied_at IS NULL)::int AS pending_receipts,
      (SELECT count(*) FROM gateway_receipts WHERE applied_at IS NULL AND retry_at IS NOT NULL)::int AS awaiting_submit,
      (SELECT min(received_at) FROM gateway_receipts WHERE applied_at IS NULL) AS oldest_receipt,
      (SELECT count(*) FROM feedback_dead_letters)::int AS dead_letters,
      (SELECT count(*) FROM mo_messages WHERE processed_at IS NULL)::int AS pending_replies,
      (SELECT min(received_at) FROM mo_messages WHERE processed_at IS NULL) AS oldest_reply`.execute(db);
  const r = result.rows[0]!;
  return {
    pendingReceipts: r.pending_receipts,
    awaitingSubmit: r.awaiting_submit,
    oldestPendingReceiptAt: r.oldest_receipt,
    deadLetters: r.dead_letters,
    pendingReplies: r.pending_replies,
    oldestPendingReplyAt: r.oldest_reply,
  };
}
