import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../src/db/kysely.js';
import { ledgerPartition } from '../../src/sending/ledger.repository.js';

export interface SentMessage {
  seq: number;
  msisdn: string;
  /** Gateway message ids of its parts, in part order. */
  parts: string[];
  /** Hours before now it was submitted (default 0). */
  submittedHoursAgo?: number;
}

/**
 * A launched campaign as the send pipeline leaves it, written directly: its ledger partition with
 * every message `submitted`, and the gateway ids of the parts in `message_parts` (unless `withoutParts`).
 */
export async function seedSentCampaign(
  db: Db,
  options: { gateway: string; messages: SentMessage[]; status?: string; launchedHoursAgo?: number; withoutParts?: boolean },
): Promise<string> {
  const id = randomUUID();
  await sql`
    INSERT INTO campaigns (id, name, class, segment_id, exclusion_policy, channel, message, schedule, throttle, control_percent,
      gateway, status, launched_by, launched_at, created_by, updated_by)
    VALUES (${id}, ${`feedback-${id.slice(0, 8)}`}, 'marketing', ${randomUUID()}, 'default', 'sms', '{"text":"x"}', '{}', '{}', 0,
      ${options.gateway}, ${options.status ?? 'sending'}, 'test', now() - make_interval(hours => ${options.launchedHoursAgo ?? 0}), 'test', 'test')`.execute(db);
  await sql.raw(`CREATE TABLE ${ledgerPartition(id)} PARTITION OF message_ledger FOR VALUES IN ('${id}') WITH (fillfactor = 70)`).execute(db);
  for (const m of options.messages) {
    await sql`
      INSERT INTO message_ledger (campaign_id, seq, customer_id, msisdn, is_control, status, parts, submitted_at)
      VALUES (${id}, ${m.seq}, ${1_000_000 + m.seq}, ${m.msisdn}, false, 'submitted', ${m.parts.length},
        now() - make_interval(hours => ${m.submittedHoursAgo ?? 0}))`.execute(db);
    if (!options.withoutParts) await insertMessageParts(db, options.gateway, id, m);
  }
  return id;
}

export async function insertMessageParts(db: Db, gateway: string, campaignId: string, message: SentMessage): Promise<void> {
  for (const [i, gatewayMessageId] of message.parts.entries()) {
    await sql`
      INSERT INTO message_parts (gateway, gateway_message_id, campaign_id, seq, part, submitted_at)
      VALUES (${gateway}, ${gatewayMessageId}, ${campaignId}, ${message.seq}, ${i + 1}, now())`.execute(db);
  }
}

export async function ledgerRow(db: Db, campaignId: string, seq: number): Promise<{ status: string; error_code: string | null; final_at: Date | null }> {
  return db
    .selectFrom('message_ledger')
    .select(['status', 'error_code', 'final_at'])
    .where('campaign_id', '=', campaignId)
    .where('seq', '=', seq)
    .executeTakeFirstOrThrow();
}
