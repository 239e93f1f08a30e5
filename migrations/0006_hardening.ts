import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
//
// A policy's condition steps may reference saved rules, which analysts may edit. Each policy
// version now pins the rules it resolves to when it is saved (name, version and condition of every
// rule reached, directly or nested), so a rule edit changes a policy only when an operator saves
// the policy again. Versions written before this migration are pinned to the rules as they are now.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('exclusion_policy_versions')
    .addColumn('rule_pins', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();

  const rules = new Map<string, { version: number; condition: unknown }>();
  for (const row of await db.selectFrom('rules').select(['name', 'version', 'condition']).execute()) {
    rules.set(row.name as string, { version: Number(row.version), condition: row.condition });
  }
  const versions = await db.selectFrom('exclusion_policy_versions').select(['policy_name', 'version', 'steps']).execute();
  for (const v of versions) {
    const pins = new Map<string, { name: string; version: number; condition: unknown }>();
    const pending = (v.steps as Array<{ type?: string; condition?: unknown }>).filter((s) => s.type === 'condition').flatMap((s) => ruleNames(s.condition));
    while (pending.length > 0) {
      const name = pending.pop()!;
      const rule = rules.get(name);
      if (pins.has(name) || !rule) continue;
      pins.set(name, { name, ...rule });
      pending.push(...ruleNames(rule.condition));
    }
    if (pins.size === 0) continue;
    const sorted = [...pins.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    await db
      .updateTable('exclusion_policy_versions')
      .set({ rule_pins: JSON.stringify(sorted) })
      .where('policy_name', '=', v.policy_name)
      .where('version', '=', v.version)
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('exclusion_policy_versions').dropColumn('rule_pins').execute();
}

/** Names in `{"rule": name}` nodes anywhere in a condition's JSON. */
function ruleNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(ruleNames);
  if (node === null || typeof node !== 'object') return [];
  const names: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'rule' && typeof value === 'string') names.push(value);
    else names.push(...ruleNames(value));
  }
  return names;
}
