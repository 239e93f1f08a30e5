import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

// Two-key advisory locks (a namespace of their own, apart from the reconciler's one-key lock).
const NAMESPACE = 0x7175616e; // "quan"
const LOCKS = { receipts: 1, replies: 2 } as const;

/**
 * Takes the transaction-scoped lock of one feedback stream, so that one process at a time applies
 * it: every worker process runs the loop, and they take turns batch by batch instead of applying
 * the same receipt twice or updating the same ledger rows in opposite orders. `wait` (the HTTP
 * ingestion, which answers with what it applied) queues for the lock; the loop only tries.
 */
export async function takeFeedbackLock(trx: Kysely<Database>, stream: keyof typeof LOCKS, wait: boolean): Promise<boolean> {
  if (wait) {
    await sql`SELECT pg_advisory_xact_lock(${NAMESPACE}, ${LOCKS[stream]})`.execute(trx);
    return true;
  }
  const result = await sql<{ ok: boolean }>`SELECT pg_try_advisory_xact_lock(${NAMESPACE}, ${LOCKS[stream]}) AS ok`.execute(trx);
  return result.rows[0]?.ok === true;
}
