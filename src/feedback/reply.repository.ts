import { sql, type Kysely } from 'kysely';
import type { Database, ReplyKind } from '../db/schema.js';

/** Customers' replies (MO, 上行): one function, one statement, each over a whole batch. */

export interface NewMo {
  gateway: string;
  msisdn: string;
  to: string;
  text: string;
  receivedAt: Date;
}

/** Stores MO messages as received; returns their ids in input order. */
export async function insertMo(db: Kysely<Database>, messages: readonly NewMo[]): Promise<number[]> {
  if (messages.length === 0) return [];
  const result = await sql<{ id: number }>`
    INSERT INTO mo_messages (gateway, msisdn, to_addr, text, received_at)
    SELECT g, m, t, x, r FROM unnest(
      ${messages.map((m) => m.gateway)}::text[],
      ${messages.map((m) => m.msisdn)}::text[],
      ${messages.map((m) => m.to)}::text[],
      ${messages.map((m) => m.text)}::text[],
      ${messages.map((m) => m.receivedAt.toISOString())}::timestamptz[]) WITH ORDINALITY AS v(g, m, t, x, r, n)
    ORDER BY n
    RETURNING id`.execute(db);
  return result.rows.map((r) => r.id);
}

export interface ClaimedMo {
  id: number;
  gateway: string;
  msisdn: string;
  text: string;
  receivedAt: Date;
}

/**
 * Stamps pending MO messages processed and returns them, oldest first: the oldest `limit`, or
 * exactly `ids` (those still pending). The caller holds the replies lock.
 */
export async function claimMo(db: Kysely<Database>, which: { limit: number } | { ids: readonly number[] }): Promise<ClaimedMo[]> {
  const pending =
    'ids' in which
      ? sql`SELECT id FROM mo_messages WHERE id = ANY(${[...which.ids]}::bigint[]) AND processed_at IS NULL`
      : sql`SELECT id FROM mo_messages WHERE processed_at IS NULL ORDER BY id LIMIT ${which.limit}`;
  const result = await sql<{ id: number; gateway: string; msisdn: string; text: string; received_at: Date }>`
    UPDATE mo_messages m SET processed_at = now()
    FROM (${pending}) c WHERE m.id = c.id
    RETURNING m.id, m.gateway, m.msisdn, m.text, m.received_at`.execute(db);
  return result.rows
    .map((r) => ({ id: r.id, gateway: r.gateway, msisdn: r.msisdn, text: r.text, receivedAt: r.received_at }))
    .sort((a, b) => a.id - b.id);
}

export interface Attribution {
  campaignId: string;
  campaignName: string;
  customerId: number;
}

/**
 * For each (number, time) the campaign that last messaged the number before that time: the latest
 * ledger row of the number that reached the gateway (submitted, delivered, expired without a
 * receipt, or unknown), by submit time. One index probe per number and ledger partition.
 */
export async function latestCampaignsFor(
  db: Kysely<Database>,
  replies: ReadonlyArray<{ key: number; msisdn: string; at: Date }>,
): Promise<Map<number, Attribution>> {
  if (replies.length === 0) return new Map();
  const result = await sql<{ key: number; campaign_id: string; name: string; customer_id: number }>`
    SELECT r.key, l.campaign_id, c.name, l.customer_id
    FROM unnest(${replies.map((r) => r.key)}::bigint[], ${replies.map((r) => r.msisdn)}::text[],
                ${replies.map((r) => r.at.toISOString())}::timestamptz[]) AS r(key, msisdn, at)
    JOIN LATERAL (
      SELECT campaign_id, customer_id FROM message_ledger
      WHERE msisdn = r.msisdn AND status IN ('submitted', 'delivered', 'expired', 'unknown') AND submitted_at <= r.at
      ORDER BY submitted_at DESC LIMIT 1) l ON true
    JOIN campaigns c ON c.id = l.campaign_id`.execute(db);
  return new Map(result.rows.map((r) => [r.key, { campaignId: r.campaign_id, campaignName: r.name, customerId: r.customer_id }]));
}

export interface NewReply {
  moId: number;
  campaignId: string | null;
  msisdn: string;
  customerId: number | null;
  gateway: string;
  text: string;
  normalised: string;
  kind: ReplyKind;
  receivedAt: Date;
}

/** Records replies; an MO already recorded (processed twice) is skipped. Returns rows written. */
export async function insertReplies(db: Kysely<Database>, replies: readonly NewReply[]): Promise<number> {
  if (replies.length === 0) return 0;
  const result = await sql`
    INSERT INTO campaign_replies (mo_id, campaign_id, msisdn, customer_id, gateway, text, normalised, kind, received_at)
    SELECT * FROM unnest(
      ${replies.map((r) => r.moId)}::bigint[],
      ${replies.map((r) => r.campaignId)}::uuid[],
      ${replies.map((r) => r.msisdn)}::text[],
      ${replies.map((r) => r.customerId)}::bigint[],
      ${replies.map((r) => r.gateway)}::text[],
      ${replies.map((r) => r.text)}::text[],
      ${replies.map((r) => r.normalised)}::text[],
      ${replies.map((r) => r.kind)}::text[],
      ${replies.map((r) => r.receivedAt.toISOString())}::timestamptz[])
    ON CONFLICT (mo_id) DO NOTHING`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
