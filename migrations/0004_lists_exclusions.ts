import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code, so the seeds are spelled out here.
const SYSTEM_LISTS: Array<{ name: string; label: string; description: string; defaultExpiryDays: number | null }> = [
  { name: 'blacklist', label: '黑名单', description: 'Never contact', defaultExpiryDays: null },
  { name: 'greylist', label: '灰名单', description: 'Temporarily do not contact; entries expire', defaultExpiryDays: 30 },
  { name: 'complaint', label: '敏感投诉名单', description: 'Customers who complained; never market to them', defaultExpiryDays: null },
  { name: 'opt_out', label: '主动要求屏蔽', description: 'Customers who opted out (e.g. replied TD)', defaultExpiryDays: null },
  { name: 'dnd', label: '免打扰', description: 'Do not disturb', defaultExpiryDays: null },
  { name: 'vip', label: 'VIP客户', description: 'VIP customers, usually routed to account managers', defaultExpiryDays: null },
  { name: 'important', label: '重要客户', description: 'Important customers, usually excluded from mass marketing', defaultExpiryDays: null },
];

const DEFAULT_POLICY_STEPS = [
  { type: 'list', list: 'blacklist' },
  { type: 'list', list: 'complaint' },
  { type: 'list', list: 'opt_out' },
  { type: 'list', list: 'dnd' },
  { type: 'list', list: 'greylist' },
  { type: 'recentContact', days: 7, sameCategory: false },
  { type: 'recentContact', days: 30, sameCategory: true },
  { type: 'hasProduct' },
  { type: 'condition', label: 'status≠active', condition: { not: { field: 'status', op: 'eq', value: 'active' } } },
];

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('lists')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[a-z][a-z0-9_]{0,62}$'`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('system', 'custom')`))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('default_expiry_days', 'integer', (c) => c.check(sql`default_expiry_days > 0`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db
    .insertInto('lists')
    .values(
      SYSTEM_LISTS.map((l) => ({
        name: l.name,
        kind: 'system',
        label: l.label,
        description: l.description,
        default_expiry_days: l.defaultExpiryDays,
        created_by: 'system',
      })),
    )
    .execute();

  await db.schema
    .createTable('list_entries')
    // A surrogate key for paging: a cursor made of the number itself would unmask it.
    .addColumn('id', 'bigserial', (c) => c.notNull().unique())
    .addColumn('list_name', 'text', (c) => c.notNull().references('lists.name'))
    .addColumn('msisdn', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('api', 'upload', 'reply', 'import')`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    // Always now() (the transaction start): the DuckDB mirror's watermark relies on it.
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    // Soft delete, so the mirror sees removals and the audit trail keeps the entry.
    .addColumn('deleted_at', 'timestamptz')
    .addColumn('deleted_by', 'text')
    .addPrimaryKeyConstraint('list_entries_pk', ['list_name', 'msisdn'])
    .execute();
  await db.schema.createIndex('list_entries_updated_idx').on('list_entries').columns(['updated_at', 'list_name', 'msisdn']).execute();
  await db.schema.createIndex('list_entries_page_idx').on('list_entries').columns(['list_name', 'id']).execute();

  await db.schema
    .createTable('exclusion_policies')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[a-z][a-z0-9_-]{0,62}$'`))
    .addColumn('description', 'text')
    .addColumn('current_version', 'integer', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('exclusion_policy_versions')
    .addColumn('policy_name', 'text', (c) => c.notNull().references('exclusion_policies.name'))
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version > 0`))
    .addColumn('description', 'text')
    .addColumn('steps', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('exclusion_policy_versions_pk', ['policy_name', 'version'])
    .execute();
  const description = 'The DESIGN.md default: never-contact lists, recent contact, product conflict, inactive customers';
  await db
    .insertInto('exclusion_policies')
    .values({ name: 'default', description, current_version: 1, created_by: 'system', updated_by: 'system' })
    .execute();
  await db
    .insertInto('exclusion_policy_versions')
    .values({ policy_name: 'default', version: 1, description, steps: JSON.stringify(DEFAULT_POLICY_STEPS), created_by: 'system' })
    .execute();

  await db.schema
    .createTable('contact_history')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('customer_id', 'bigint', (c) => c.notNull())
    .addColumn('campaign_id', 'text', (c) => c.notNull())
    .addColumn('category', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    // Left to its default (the transaction start): ids commit out of order, so the mirror's
    // watermark is on this column, bounded by the oldest open transaction.
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('contact_history_recorded_idx').on('contact_history').columns(['recorded_at', 'id']).execute();
  await db.schema.createIndex('contact_history_customer_idx').on('contact_history').columns(['customer_id', 'sent_at']).execute();

  await db.schema
    .createTable('targeting_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('segment_id', 'text', (c) => c.notNull())
    .addColumn('campaign_id', 'text')
    .addColumn('policy_name', 'text', (c) => c.notNull())
    .addColumn('policy_version', 'integer', (c) => c.notNull())
    // The steps as run, so explain reads what was applied even after the policy changes.
    .addColumn('steps', 'jsonb', (c) => c.notNull())
    .addColumn('product_id', 'text')
    .addColumn('category', 'text')
    .addColumn('control_percent', sql`numeric(5,2)`, (c) => c.notNull())
    .addColumn('seed', 'text', (c) => c.notNull())
    .addColumn('as_of', 'timestamptz', (c) => c.notNull())
    .addColumn('funnel', 'jsonb', (c) => c.notNull())
    .addColumn('segment_count', 'bigint', (c) => c.notNull())
    .addColumn('control_count', 'bigint', (c) => c.notNull())
    .addColumn('target_count', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('elapsed_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('targeting_runs_segment_idx').on('targeting_runs').columns(['segment_id', 'created_at']).execute();
  await db.schema.createIndex('targeting_runs_campaign_idx').on('targeting_runs').columns(['campaign_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('targeting_runs').execute();
  await db.schema.dropTable('contact_history').execute();
  await db.schema.dropTable('exclusion_policy_versions').execute();
  await db.schema.dropTable('exclusion_policies').execute();
  await db.schema.dropTable('list_entries').execute();
  await db.schema.dropTable('lists').execute();
}
