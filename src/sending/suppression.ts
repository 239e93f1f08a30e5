import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * The lists checked again right before submit (DESIGN.md: suppression is checked twice). A
 * notification is stopped only by the blacklist; marketing by every list of the default policy.
 * Greylist entries count while unexpired, like every list entry.
 */
export function suppressionLists(campaignClass: 'marketing' | 'notification'): string[] {
  return campaignClass === 'notification' ? ['blacklist'] : ['blacklist', 'complaint', 'opt_out', 'dnd', 'greylist'];
}

/** The numbers among `msisdns` with a live entry on any of `lists` (one probe of the primary key each). */
export async function suppressedNumbers(db: Kysely<Database>, lists: readonly string[], msisdns: readonly string[]): Promise<Set<string>> {
  if (msisdns.length === 0 || lists.length === 0) return new Set();
  const result = await sql<{ msisdn: string }>`
    SELECT DISTINCT msisdn FROM list_entries
    WHERE list_name = ANY(${[...lists]}::text[]) AND msisdn = ANY(${[...msisdns]}::text[])
      AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now())`.execute(db);
  return new Set(result.rows.map((r) => r.msisdn));
}
