import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('segments')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('condition', 'upload')`))
    .addColumn('condition', 'jsonb')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status IN ('building', 'ready', 'failed')`))
    .addColumn('member_count', 'bigint')
    // dataset → warehouse snapshot version the members were computed on.
    .addColumn('snapshot_versions', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // Everything the condition reaches, nested rules included, so "who uses X?" is one indexed lookup.
    .addColumn('rule_refs', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('segment_refs', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('list_refs', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('upload_report', 'jsonb')
    .addColumn('error', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('refreshed_at', 'timestamptz')
    .addCheckConstraint('segments_condition_kind', sql`(kind = 'condition') = (condition IS NOT NULL)`)
    .execute();
  await db.schema.createIndex('segments_created_idx').on('segments').columns(['created_at', 'id']).execute();
  await db.schema.createIndex('segments_rule_refs_idx').on('segments').using('gin').column('rule_refs').execute();
  await db.schema.createIndex('segments_segment_refs_idx').on('segments').using('gin').column('segment_refs').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('segments').execute();
}
