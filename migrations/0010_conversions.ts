import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
//
// Orders reported by CRM/BOSS. Attribution to campaigns is computed by the reports (in DuckDB),
// never stored: the window (ATTRIBUTION_DAYS) may change, and the same order may count for
// several campaigns' reports. Rows are only ever inserted (idempotent by order id), so the
// mirror into DuckDB reads them by `created_at`, which is indexed for it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('conversions')
    .addColumn('order_id', 'text', (c) => c.primaryKey())
    .addColumn('msisdn', 'text')
    .addColumn('customer_id', 'bigint')
    .addColumn('product_id', 'text', (c) => c.notNull())
    .addColumn('ordered_at', 'timestamptz', (c) => c.notNull())
    .addColumn('revenue', sql`numeric(14,2)`, (c) => c.check(sql`revenue >= 0`))
    // `api`, or `upload:<file name>`: where the order came from, for whoever audits a figure.
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('conversions_who_check', sql`msisdn IS NOT NULL OR customer_id IS NOT NULL`)
    .execute();
  await db.schema.createIndex('conversions_created_idx').on('conversions').columns(['created_at', 'order_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('conversions').ifExists().execute();
}
