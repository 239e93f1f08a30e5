import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
//
// Feedback (活动执行反馈): receipts applied to the ledger, unmatched receipts kept as dead letters,
// customers' replies attributed to campaigns.
//
// Receipts carry no per-part state in `message_parts`: a message's outcome is recomputed from every
// final receipt stored for its parts (`gateway_receipts` is indexed by gateway id already), so a
// receipt writes nothing to `message_parts`, an append-only table with full pages where a status
// update would be non-HOT (a new heap tuple and two index entries per receipt).
export async function up(db: Kysely<any>): Promise<void> {
  // `applied_at` stamps a processed receipt (applied, or moved to the dead letters); a receipt
  // whose message id is not known yet (its submit response is still being recorded) is tried again
  // from `retry_at` on. The pending ones are found through a partial index that stays small.
  await sql`ALTER TABLE gateway_receipts ADD COLUMN retry_at timestamptz`.execute(db);
  await sql`CREATE INDEX gateway_receipts_pending_idx ON gateway_receipts (id) WHERE applied_at IS NULL`.execute(db);
  await sql`CREATE INDEX mo_messages_pending_idx ON mo_messages (id) WHERE processed_at IS NULL`.execute(db);

  await db.schema
    .createTable('feedback_dead_letters')
    .addColumn('receipt_id', 'bigint', (c) => c.primaryKey())
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('gateway_message_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('done_at', 'timestamptz')
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('dead_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('feedback_dead_letters_page_idx').on('feedback_dead_letters').columns(['dead_at', 'receipt_id']).execute();

  // One row per MO message (its id: processing the same MO twice records it once).
  await db.schema
    .createTable('campaign_replies')
    .addColumn('mo_id', 'bigint', (c) => c.primaryKey())
    // Null when no campaign had messaged the number before the reply.
    .addColumn('campaign_id', 'uuid')
    .addColumn('msisdn', 'text', (c) => c.notNull())
    .addColumn('customer_id', 'bigint')
    .addColumn('gateway', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('normalised', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('opt_out', 'start', 'response')`))
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    // The transaction start, like contact_history's: a watermarked mirror reads by it.
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('campaign_replies_campaign_idx').on('campaign_replies').columns(['campaign_id', 'kind']).execute();
  await db.schema.createIndex('campaign_replies_recorded_idx').on('campaign_replies').columns(['recorded_at', 'mo_id']).execute();

  // A reply names no campaign: the latest one that messaged the number is found by number. msisdn
  // never changes after launch, so the ledger's status writes stay HOT.
  await sql`CREATE INDEX message_ledger_msisdn_idx ON message_ledger (msisdn)`.execute(db);

  // Set once a campaign that stopped sending has had its overdue messages expired: later expiry
  // passes skip it instead of scanning its ledger partition again.
  await sql`ALTER TABLE campaigns ADD COLUMN receipts_closed_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE campaigns DROP COLUMN receipts_closed_at`.execute(db);
  await sql`DROP INDEX IF EXISTS message_ledger_msisdn_idx`.execute(db);
  await db.schema.dropTable('campaign_replies').ifExists().execute();
  await db.schema.dropTable('feedback_dead_letters').ifExists().execute();
  await sql`DROP INDEX IF EXISTS mo_messages_pending_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS gateway_receipts_pending_idx`.execute(db);
  await sql`ALTER TABLE gateway_receipts DROP COLUMN retry_at`.execute(db);
}
