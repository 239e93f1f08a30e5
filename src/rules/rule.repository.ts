import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, RulesTable, RuleVersionsTable } from '../db/schema.js';

export type RuleRow = Selectable<RulesTable>;
export type RuleVersionRow = Selectable<RuleVersionsTable>;

type Db = Kysely<Database>;

/**
 * Serialises writers of the rule library for the rest of the transaction, so two concurrent edits
 * cannot each pass the cycle check against the other's old definition.
 */
export async function lockRuleLibrary(trx: Db): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('quanke.rules'))`.execute(trx);
}

export async function findRule(db: Db, name: string): Promise<RuleRow | undefined> {
  return db.selectFrom('rules').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findRuleCondition(db: Db, name: string): Promise<unknown | undefined> {
  const row = await db.selectFrom('rules').select('condition').where('name', '=', name).executeTakeFirst();
  return row?.condition;
}

export async function listRules(db: Db): Promise<RuleRow[]> {
  return db.selectFrom('rules').selectAll().orderBy('name').execute();
}

export interface RuleWrite {
  name: string;
  description: string;
  condition: unknown;
  version: number;
  source: RuleRow['source'];
  ruleRefs: string[];
  segmentRefs: string[];
  by: string;
}

/** The columns a create and an update both write. */
function ruleColumns(rule: RuleWrite) {
  return {
    description: rule.description,
    condition: JSON.stringify(rule.condition),
    version: rule.version,
    source: rule.source,
    rule_refs: rule.ruleRefs,
    segment_refs: rule.segmentRefs,
    updated_by: rule.by,
  };
}

export async function insertRule(trx: Db, rule: RuleWrite): Promise<RuleRow> {
  return trx
    .insertInto('rules')
    .values({ name: rule.name, ...ruleColumns(rule) })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function updateRule(trx: Db, rule: RuleWrite): Promise<RuleRow> {
  return trx
    .updateTable('rules')
    .set({ ...ruleColumns(rule), updated_at: sql<Date>`now()` })
    .where('name', '=', rule.name)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteRuleRow(trx: Db, name: string): Promise<void> {
  await trx.deleteFrom('rules').where('name', '=', name).execute();
}

export async function insertRuleVersion(
  trx: Db,
  version: { name: string; version: number; change: RuleVersionRow['change']; source: RuleVersionRow['source']; description: string; condition: unknown; by: string },
): Promise<void> {
  await trx
    .insertInto('rule_versions')
    .values({
      name: version.name,
      version: version.version,
      change: version.change,
      source: version.source,
      description: version.description,
      condition: JSON.stringify(version.condition),
      changed_by: version.by,
    })
    .execute();
}

/** The highest version number ever written for the name (0 when none), deletions included. */
export async function lastRuleVersion(db: Db, name: string): Promise<number> {
  const row = await db
    .selectFrom('rule_versions')
    .select((eb) => eb.fn.max('version').as('version'))
    .where('name', '=', name)
    .executeTakeFirst();
  return Number(row?.version ?? 0);
}

export async function listRuleVersions(db: Db, name: string): Promise<RuleVersionRow[]> {
  return db.selectFrom('rule_versions').selectAll().where('name', '=', name).orderBy('version', 'desc').execute();
}

/** Rules whose own condition references rule `name` (GIN index on `rule_refs`). */
export async function rulesReferencingRule(db: Db, name: string): Promise<string[]> {
  const rows = await db.selectFrom('rules').select('name').where('rule_refs', '@>', sql<string[]>`ARRAY[${name}]::text[]`).orderBy('name').execute();
  return rows.map((r) => r.name);
}

/** Rules whose own condition references segment `id` (GIN index on `segment_refs`). */
export async function rulesReferencingSegment(db: Db, id: string): Promise<string[]> {
  const rows = await db.selectFrom('rules').select('name').where('segment_refs', '@>', sql<string[]>`ARRAY[${id}]::text[]`).orderBy('name').execute();
  return rows.map((r) => r.name);
}

/** The latest history entry of the name, if any (a deleted rule's is its deletion). */
export async function lastRuleChange(db: Db, name: string): Promise<Pick<RuleVersionRow, 'version' | 'change'> | undefined> {
  return db
    .selectFrom('rule_versions')
    .select(['version', 'change'])
    .where('name', '=', name)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Every rule name reachable from `names` through stored rule references, `names` included. */
export async function rulesReachableFrom(db: Db, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const result = await sql<{ name: string }>`
    WITH RECURSIVE reach(name) AS (
      SELECT unnest(${names}::text[])
      UNION
      SELECT ref.name FROM rules r JOIN reach ON r.name = reach.name CROSS JOIN LATERAL unnest(r.rule_refs) AS ref(name)
    )
    SELECT name FROM reach`.execute(db);
  return result.rows.map((r) => r.name);
}
