import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rules')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[a-z0-9][a-z0-9_-]{1,63}$'`))
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('condition', 'jsonb', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    // 'library': as shipped in rules/*.json; 'api': created or edited through the API since.
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('library', 'api')`))
    // Rules and segments this rule references directly, so "who references X?" is one indexed lookup.
    .addColumn('rule_refs', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('segment_refs', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rules_rule_refs_idx').on('rules').using('gin').column('rule_refs').execute();
  await db.schema.createIndex('rules_segment_refs_idx').on('rules').using('gin').column('segment_refs').execute();

  // Every version ever written, deletions included (a deletion is a version of its own, so a rule
  // re-created later continues the numbering); rows outlive the rule they describe.
  await db.schema
    .createTable('rule_versions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('change', 'text', (c) => c.notNull().check(sql`change IN ('create', 'update', 'delete')`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('library', 'api')`))
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('condition', 'jsonb', (c) => c.notNull())
    .addColumn('changed_by', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('rule_versions_name_version', ['name', 'version'])
    .execute();
  await db.schema.createIndex('rule_versions_name_idx').on('rule_versions').columns(['name', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rule_versions').execute();
  await db.schema.dropTable('rules').execute();
}
