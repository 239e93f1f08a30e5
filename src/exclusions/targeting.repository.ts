import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, TargetingRunsTable } from '../db/schema.js';

export type TargetingRunRow = Selectable<TargetingRunsTable>;

export interface NewTargetingRun {
  id: string;
  segmentId: string;
  campaignId: string | null;
  policyName: string;
  policyVersion: number;
  steps: unknown[];
  productId: string | null;
  category: string | null;
  controlPercent: number;
  seed: string;
  asOf: Date;
  funnel: unknown;
  segmentCount: number;
  controlCount: number;
  targetCount: number;
  createdBy: string;
  elapsedMs: number;
}

export async function insertTargetingRun(db: Kysely<Database>, run: NewTargetingRun): Promise<TargetingRunRow> {
  return db
    .insertInto('targeting_runs')
    .values({
      id: run.id,
      segment_id: run.segmentId,
      campaign_id: run.campaignId,
      policy_name: run.policyName,
      policy_version: run.policyVersion,
      steps: JSON.stringify(run.steps),
      product_id: run.productId,
      category: run.category,
      control_percent: run.controlPercent,
      seed: run.seed,
      as_of: run.asOf,
      funnel: JSON.stringify(run.funnel),
      segment_count: run.segmentCount,
      control_count: run.controlCount,
      target_count: run.targetCount,
      created_by: run.createdBy,
      elapsed_ms: run.elapsedMs,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findTargetingRun(db: Kysely<Database>, id: string): Promise<TargetingRunRow | undefined> {
  return db.selectFrom('targeting_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Preview runs (no campaign) created before `cutoff`: their per-customer results may be dropped. */
export async function findPreviewRunIdsBefore(db: Kysely<Database>, cutoff: Date): Promise<string[]> {
  const rows = await db
    .selectFrom('targeting_runs')
    .select('id')
    .where('campaign_id', 'is', null)
    .where('created_at', '<', cutoff)
    .execute();
  return rows.map((r) => r.id);
}

/** Which of `ids` name a targeting run (one array parameter, however many ids). */
export async function existingTargetingRunIds(db: Kysely<Database>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('targeting_runs').select('id').where('id', '=', sql<string>`ANY(${[...ids]}::uuid[])`).execute();
  return rows.map((r) => r.id);
}
