import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SegmentsTable } from '../db/schema.js';

export type SegmentRow = Selectable<SegmentsTable>;
export type SegmentStatus = SegmentRow['status'];

/** A segment named by something that depends on it. */
export interface SegmentRef {
  id: string;
  name: string;
}

export interface NewSegment {
  /** Chosen by the caller when warehouse tables are built under it before the row exists. */
  id?: string;
  name: string;
  kind: SegmentRow['kind'];
  condition: unknown;
  ruleRefs: string[];
  segmentRefs: string[];
  listRefs: string[];
  createdBy: string;
}

const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));

export async function insertSegment(db: Kysely<Database>, segment: NewSegment): Promise<SegmentRow> {
  return db
    .insertInto('segments')
    .values({
      ...(segment.id ? { id: segment.id } : {}),
      name: segment.name,
      kind: segment.kind,
      condition: json(segment.condition),
      status: 'building',
      rule_refs: segment.ruleRefs,
      segment_refs: segment.segmentRefs,
      list_refs: segment.listRefs,
      created_by: segment.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findSegment(db: Kysely<Database>, id: string): Promise<SegmentRow | undefined> {
  return db.selectFrom('segments').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Locks the row for the rest of the transaction, so a delete and a refresh cannot interleave. */
export async function findSegmentForUpdate(db: Kysely<Database>, id: string): Promise<SegmentRow | undefined> {
  return db.selectFrom('segments').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function findSegmentStatus(db: Kysely<Database>, id: string): Promise<SegmentStatus | undefined> {
  const row = await db.selectFrom('segments').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

/** Newest first; `before` is the (created_at, id) of the last row of the previous page. */
export async function listSegments(
  db: Kysely<Database>,
  page: { limit: number; before?: { createdAt: Date; id: string } },
): Promise<SegmentRow[]> {
  let query = db.selectFrom('segments').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit);
  const before = page.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
    );
  }
  return query.execute();
}

export async function markSegmentReady(
  db: Kysely<Database>,
  id: string,
  result: { memberCount: number; snapshotVersions: Record<string, number>; uploadReport?: unknown },
): Promise<SegmentRow> {
  return db
    .updateTable('segments')
    .set({
      status: 'ready',
      member_count: result.memberCount,
      snapshot_versions: JSON.stringify(result.snapshotVersions),
      ...(result.uploadReport === undefined ? {} : { upload_report: json(result.uploadReport) }),
      error: null,
      refreshed_at: new Date(),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function markSegmentFailed(db: Kysely<Database>, id: string, error: string): Promise<SegmentRow> {
  return db
    .updateTable('segments')
    .set({ status: 'failed', error })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Every segment still `building`, marked `failed` with `error`; returns their ids. */
export async function failSegmentsStillBuilding(db: Kysely<Database>, error: string): Promise<string[]> {
  const rows = await db.updateTable('segments').set({ status: 'failed', error }).where('status', '=', 'building').returning('id').execute();
  return rows.map((r) => r.id);
}

/** Which of `ids` name a segment (one array parameter, however many ids). */
export async function existingSegmentIds(db: Kysely<Database>, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('segments').select('id').where('id', '=', sql<string>`ANY(${[...ids]}::uuid[])`).execute();
  return rows.map((r) => r.id);
}

/** Rewrites the references a refresh found (rules may have changed what they reach). */
export async function updateSegmentRefs(
  db: Kysely<Database>,
  id: string,
  refs: { ruleRefs: string[]; segmentRefs: string[]; listRefs: string[] },
): Promise<void> {
  await db
    .updateTable('segments')
    .set({ rule_refs: refs.ruleRefs, segment_refs: refs.segmentRefs, list_refs: refs.listRefs })
    .where('id', '=', id)
    .execute();
}

export async function deleteSegmentRow(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('segments').where('id', '=', id).execute();
}

/** Segments whose condition reaches segment `id` (GIN index on `segment_refs`). */
export async function segmentsReferencingSegment(db: Kysely<Database>, id: string): Promise<SegmentRef[]> {
  return db
    .selectFrom('segments')
    .select(['id', 'name'])
    .where('segment_refs', '@>', sql<string[]>`ARRAY[${id}]::text[]`)
    .where('id', '!=', id)
    .orderBy('name')
    .execute();
}

/** Segments whose condition reaches rule `name`, directly or through other rules (GIN index on `rule_refs`). */
export async function segmentsReferencingRule(db: Kysely<Database>, name: string): Promise<SegmentRef[]> {
  return db.selectFrom('segments').select(['id', 'name']).where('rule_refs', '@>', sql<string[]>`ARRAY[${name}]::text[]`).orderBy('name').execute();
}
