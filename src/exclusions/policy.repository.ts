import type { Kysely, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { Database, ExclusionPoliciesTable } from '../db/schema.js';
import type { RulePin } from './rule-pins.js';

export type PolicyRow = Selectable<ExclusionPoliciesTable>;

export interface PolicyVersionRow {
  name: string;
  version: number;
  description: string | null;
  steps: unknown[];
  rule_pins: RulePin[];
  created_by: string;
  created_at: Date;
  updated_by: string;
  updated_at: Date;
}

/** A policy at its current version, or at `version` when given. */
export async function findPolicyVersion(db: Kysely<Database>, name: string, version?: number): Promise<PolicyVersionRow | undefined> {
  return db
    .selectFrom('exclusion_policies as p')
    .innerJoin('exclusion_policy_versions as v', (j) =>
      j.onRef('v.policy_name', '=', 'p.name').on('v.version', '=', version ?? sql<number>`p.current_version`),
    )
    .select(['p.name', 'v.version', 'v.description', 'v.steps', 'v.rule_pins', 'p.created_by', 'p.created_at', 'v.created_by as updated_by', 'v.created_at as updated_at'])
    .where('p.name', '=', name)
    .executeTakeFirst();
}

export async function listPolicies(db: Kysely<Database>): Promise<PolicyVersionRow[]> {
  return db
    .selectFrom('exclusion_policies as p')
    .innerJoin('exclusion_policy_versions as v', (j) => j.onRef('v.policy_name', '=', 'p.name').onRef('v.version', '=', 'p.current_version'))
    .select(['p.name', 'v.version', 'v.description', 'v.steps', 'v.rule_pins', 'p.created_by', 'p.created_at', 'v.created_by as updated_by', 'v.created_at as updated_at'])
    .orderBy('p.name')
    .execute();
}

/** The policy row locked for a new version; undefined when the policy does not exist yet. */
export async function lockPolicy(db: Kysely<Database>, name: string): Promise<PolicyRow | undefined> {
  return db.selectFrom('exclusion_policies').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
}

export async function insertPolicy(db: Kysely<Database>, policy: { name: string; description: string | null; actor: string }): Promise<void> {
  await db
    .insertInto('exclusion_policies')
    .values({ name: policy.name, description: policy.description, current_version: 1, created_by: policy.actor, updated_by: policy.actor })
    .execute();
}

export async function setCurrentVersion(
  db: Kysely<Database>,
  policy: { name: string; description: string | null; version: number; actor: string },
): Promise<void> {
  await db
    .updateTable('exclusion_policies')
    .set({ current_version: policy.version, description: policy.description, updated_by: policy.actor, updated_at: sql<Date>`now()` })
    .where('name', '=', policy.name)
    .execute();
}

export async function insertPolicyVersion(
  db: Kysely<Database>,
  version: { name: string; version: number; description: string | null; steps: unknown[]; rulePins: RulePin[]; actor: string },
): Promise<void> {
  await db
    .insertInto('exclusion_policy_versions')
    .values({
      policy_name: version.name,
      version: version.version,
      description: version.description,
      steps: JSON.stringify(version.steps),
      rule_pins: JSON.stringify(version.rulePins),
      created_by: version.actor,
    })
    .execute();
}
