import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Takes one of the day's `cap` slots for each number, atomically across every worker: the upsert
 * increments only below the cap, and returns the numbers that got a slot. A number listed twice
 * gets at most one slot here (Postgres cannot update one row twice in a statement).
 */
export async function reserveCapSlots(db: Kysely<Database>, day: string, cap: number, msisdns: readonly string[]): Promise<Set<string>> {
  const unique = [...new Set(msisdns)];
  if (unique.length === 0) return new Set();
  const result = await sql<{ msisdn: string }>`
    INSERT INTO frequency_caps AS f (msisdn, day, sent)
    SELECT m, ${day}::date, 1 FROM unnest(${unique}::text[]) AS m
    ON CONFLICT (msisdn, day) DO UPDATE SET sent = f.sent + 1 WHERE f.sent < ${cap}
    RETURNING msisdn`.execute(db);
  return new Set(result.rows.map((r) => r.msisdn));
}

/** Gives back the slots of messages that were certainly not sent (rejected, or to be retried). */
export async function releaseCapSlots(db: Kysely<Database>, day: string, msisdns: readonly string[]): Promise<void> {
  if (msisdns.length === 0) return;
  await sql`
    UPDATE frequency_caps f SET sent = f.sent - 1
    FROM unnest(${[...msisdns]}::text[]) AS m
    WHERE f.msisdn = m AND f.day = ${day}::date AND f.sent > 0`.execute(db);
}
