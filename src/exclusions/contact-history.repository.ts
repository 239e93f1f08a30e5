import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** One contact as the send pipeline records it. */
export interface ContactRecord {
  customerId: number;
  campaignId: string;
  category: string | null;
  sentAt: Date;
}

/** Appends contacts (a statement fragment, so the send pipeline writes them with the chunk's outcomes). */
export function contactsStatement(contacts: readonly ContactRecord[]) {
  return sql`
    INSERT INTO contact_history (customer_id, campaign_id, category, sent_at)
    SELECT * FROM unnest(
      ${contacts.map((c) => c.customerId)}::bigint[], ${contacts.map((c) => c.campaignId)}::text[],
      ${contacts.map((c) => c.category)}::text[], ${contacts.map((c) => c.sentAt.toISOString())}::timestamptz[])
    RETURNING 1`;
}

/** Appends contacts in one statement; returns how many. */
export async function insertContacts(db: Kysely<Database>, contacts: readonly ContactRecord[]): Promise<number> {
  if (contacts.length === 0) return 0;
  const result = await sql<{ n: number }>`WITH inserted AS (${contactsStatement(contacts)}) SELECT count(*)::int AS n FROM inserted`.execute(db);
  return result.rows[0]?.n ?? 0;
}

/** One recorded contact as the mirror needs it; times in epoch microseconds. */
export interface ContactChange {
  id: number;
  customer_id: number;
  campaign_id: string;
  category: string | null;
  sent_us: number;
  recorded_us: number;
}

export interface ContactChangeKey {
  recordedUs: number;
  id: number;
}

/** Contacts recorded at or after `sinceUs` (all when undefined) in `(recorded_at, id)` order after `after`. */
export async function readContactChanges(
  db: Kysely<Database>,
  query: { sinceUs?: number; after?: ContactChangeKey; limit: number },
): Promise<ContactChange[]> {
  const at = (us: number) => sql`(timestamptz 'epoch' + ${us} * interval '1 microsecond')`;
  const since = query.sinceUs === undefined ? sql`TRUE` : sql`recorded_at >= ${at(query.sinceUs)}`;
  const after = query.after ? sql`(recorded_at, id) > (${at(query.after.recordedUs)}, ${query.after.id})` : sql`TRUE`;
  const result = await sql<ContactChange>`
    SELECT id, customer_id, campaign_id, category,
      (extract(epoch FROM sent_at) * 1000000)::bigint AS sent_us,
      (extract(epoch FROM recorded_at) * 1000000)::bigint AS recorded_us
    FROM contact_history
    WHERE ${since} AND ${after}
    ORDER BY recorded_at, id
    LIMIT ${query.limit}`.execute(db);
  return result.rows;
}
