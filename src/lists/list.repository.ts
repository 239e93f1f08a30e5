import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, ListEntriesTable, ListsTable } from '../db/schema.js';

export type ListRow = Selectable<ListsTable>;
export type ListEntryRow = Selectable<ListEntriesTable>;
export type ListSummaryRow = ListRow & { active_count: number; expired_count: number };
export type EntrySource = ListEntryRow['source'];

export async function findList(db: Kysely<Database>, name: string): Promise<ListRow | undefined> {
  return db.selectFrom('lists').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Every list with its live entries split into unexpired and expired; system lists first. */
export async function listListsWithCounts(db: Kysely<Database>): Promise<ListSummaryRow[]> {
  const rows = await sql<ListSummaryRow>`
    SELECT l.*,
      count(e.msisdn) FILTER (WHERE e.expires_at IS NULL OR e.expires_at > now()) AS active_count,
      count(e.msisdn) FILTER (WHERE e.expires_at <= now()) AS expired_count
    FROM lists l
    LEFT JOIN list_entries e ON e.list_name = l.name AND e.deleted_at IS NULL
    GROUP BY l.name
    ORDER BY l.kind = 'custom', l.created_at, l.name`.execute(db);
  return rows.rows;
}

/** Inserts a list; undefined when one of that name already exists. */
export async function insertList(
  db: Kysely<Database>,
  list: { name: string; label: string; description: string | null; defaultExpiryDays: number | null; createdBy: string },
): Promise<ListRow | undefined> {
  return db
    .insertInto('lists')
    .values({
      name: list.name,
      kind: 'custom',
      label: list.label,
      description: list.description,
      default_expiry_days: list.defaultExpiryDays,
      created_by: list.createdBy,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export interface UpsertEntries {
  listName: string;
  /** Distinct, already validated numbers. */
  msisdns: readonly string[];
  reason: string | null;
  expiresAt: Date | null;
  source: EntrySource;
  actor: string;
}

export interface UpsertOutcome {
  added: number;
  updated: number;
  revived: number;
}

/**
 * Adds or refreshes entries in one statement: a new number is inserted, a live one gets the new
 * reason (when given) and expiry, a removed one comes back as if newly added. The `before` CTE sees
 * the table as it was when the statement started, which is what tells the three cases apart.
 * Rows are written in number order so two concurrent batches cannot deadlock on each other.
 */
export async function upsertEntries(db: Kysely<Database>, input: UpsertEntries): Promise<UpsertOutcome> {
  const result = await sql<{ added: number; updated: number; revived: number }>`
    WITH input AS (
      SELECT DISTINCT m AS msisdn FROM unnest(${input.msisdns as string[]}::text[]) AS t(m)
    ), before AS (
      SELECT e.msisdn, e.deleted_at FROM list_entries e JOIN input i USING (msisdn) WHERE e.list_name = ${input.listName}
    ), upserted AS (
      INSERT INTO list_entries AS e (list_name, msisdn, reason, source, created_by, updated_by, expires_at)
      SELECT ${input.listName}, msisdn, ${input.reason}, ${input.source}, ${input.actor}, ${input.actor}, ${input.expiresAt}::timestamptz
      FROM input ORDER BY msisdn
      ON CONFLICT (list_name, msisdn) DO UPDATE SET
        reason = COALESCE(EXCLUDED.reason, CASE WHEN e.deleted_at IS NULL THEN e.reason END),
        source = EXCLUDED.source,
        created_by = CASE WHEN e.deleted_at IS NULL THEN e.created_by ELSE EXCLUDED.created_by END,
        created_at = CASE WHEN e.deleted_at IS NULL THEN e.created_at ELSE now() END,
        updated_by = EXCLUDED.updated_by,
        updated_at = now(),
        expires_at = EXCLUDED.expires_at,
        deleted_at = NULL,
        deleted_by = NULL
      RETURNING e.msisdn
    )
    SELECT
      count(*) FILTER (WHERE b.msisdn IS NULL)::int AS added,
      count(*) FILTER (WHERE b.msisdn IS NOT NULL AND b.deleted_at IS NULL)::int AS updated,
      count(*) FILTER (WHERE b.deleted_at IS NOT NULL)::int AS revived
    FROM upserted u LEFT JOIN before b USING (msisdn)`.execute(db);
  const row = result.rows[0];
  return { added: row?.added ?? 0, updated: row?.updated ?? 0, revived: row?.revived ?? 0 };
}

/** The entry whether live or removed (removed ones keep their history for explain and audit). */
export async function findEntry(db: Kysely<Database>, listName: string, msisdn: string): Promise<ListEntryRow | undefined> {
  return db.selectFrom('list_entries').selectAll().where('list_name', '=', listName).where('msisdn', '=', msisdn).executeTakeFirst();
}

/** Entries of one number on several lists (removed ones included). */
export async function findEntriesOfNumber(db: Kysely<Database>, listNames: readonly string[], msisdn: string): Promise<ListEntryRow[]> {
  if (listNames.length === 0) return [];
  return db.selectFrom('list_entries').selectAll().where('list_name', 'in', listNames).where('msisdn', '=', msisdn).execute();
}

/** Marks a live entry removed; undefined when there is none. Row-locked, so the caller's `before` is exact. */
export async function lockLiveEntry(db: Kysely<Database>, listName: string, msisdn: string): Promise<ListEntryRow | undefined> {
  return db
    .selectFrom('list_entries')
    .selectAll()
    .where('list_name', '=', listName)
    .where('msisdn', '=', msisdn)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

export async function softDeleteEntry(db: Kysely<Database>, listName: string, msisdn: string, actor: string): Promise<ListEntryRow> {
  return db
    .updateTable('list_entries')
    .set({ deleted_at: sql<Date>`now()`, deleted_by: actor, updated_at: sql<Date>`now()`, updated_by: actor })
    .where('list_name', '=', listName)
    .where('msisdn', '=', msisdn)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Live entries (expired ones included, flagged by the caller) in id order after `afterId`. */
export async function pageLiveEntries(
  db: Kysely<Database>,
  query: { listName: string; msisdn?: string; afterId?: number; limit: number },
): Promise<ListEntryRow[]> {
  let q = db
    .selectFrom('list_entries')
    .selectAll()
    .where('list_name', '=', query.listName)
    .where('deleted_at', 'is', null);
  if (query.msisdn !== undefined) q = q.where('msisdn', '=', query.msisdn);
  if (query.afterId !== undefined) q = q.where('id', '>', query.afterId);
  return q.orderBy('id').limit(query.limit).execute();
}

/**
 * A moment (epoch microseconds) before which every change is committed: the earlier of now and the
 * start of the oldest transaction still open in this database. A row stamped `now()` by a
 * transaction that has not committed yet can carry a time as old as that transaction's start, so a
 * mirror that read everything up to a watermark may only advance it this far. Sessions whose start
 * this role may not see read as NULL; the mirrors' overlap window covers those.
 */
export async function changeHorizonUs(db: Kysely<Database>): Promise<number> {
  const result = await sql<{ horizon_us: number }>`
    SELECT (extract(epoch FROM least(statement_timestamp(), (
      SELECT min(xact_start) FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
    ))) * 1000000)::bigint AS horizon_us`.execute(db);
  return Number(result.rows[0]!.horizon_us);
}

/** One changed entry as the mirror needs it; times in epoch microseconds. */
export interface EntryChange {
  list_name: string;
  msisdn: string;
  expires_us: number | null;
  deleted: boolean;
  updated_us: number;
}

/** Keyset position in `(updated_at, list_name, msisdn)` order. */
export interface EntryChangeKey {
  updatedUs: number;
  listName: string;
  msisdn: string;
}

/**
 * Entries changed at or after `sinceUs` (all of them when undefined), in change order, after `after`.
 * Microsecond integers, not JS dates: a Date would drop the microseconds the keyset needs.
 */
export async function readEntryChanges(
  db: Kysely<Database>,
  query: { sinceUs?: number; after?: EntryChangeKey; limit: number },
): Promise<EntryChange[]> {
  const at = (us: number) => sql`(timestamptz 'epoch' + ${us} * interval '1 microsecond')`;
  const since = query.sinceUs === undefined ? sql`TRUE` : sql`updated_at >= ${at(query.sinceUs)}`;
  const after = query.after
    ? sql`(updated_at, list_name, msisdn) > (${at(query.after.updatedUs)}, ${query.after.listName}, ${query.after.msisdn})`
    : sql`TRUE`;
  const result = await sql<EntryChange>`
    SELECT list_name, msisdn,
      (extract(epoch FROM expires_at) * 1000000)::bigint AS expires_us,
      deleted_at IS NOT NULL AS deleted,
      (extract(epoch FROM updated_at) * 1000000)::bigint AS updated_us
    FROM list_entries
    WHERE ${since} AND ${after}
    ORDER BY updated_at, list_name, msisdn
    LIMIT ${query.limit}`.execute(db);
  return result.rows;
}
