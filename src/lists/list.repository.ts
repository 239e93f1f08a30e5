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
 * reason (when given) and expiry, a removed one comes back as if newly added. `before` (the rows as
 * they were when the statement started) tells the three cases apart by counting alone: joining it
 * to the upserted rows let the planner, misled by unnest's row estimate, loop quadratically.
 * Rows are written in number order so two concurrent batches cannot deadlock on each other.
 */
export async function upsertEntries(db: Kysely<Database>, input: UpsertEntries): Promise<UpsertOutcome> {
  const numbers = input.msisdns as string[];
  const result = await sql<{ added: number; updated: number; revived: number }>`
    WITH input AS MATERIALIZED (
      SELECT DISTINCT m AS msisdn FROM unnest(${numbers}::text[]) AS t(m)
    ), before AS MATERIALIZED (
      SELECT deleted_at FROM list_entries WHERE list_name = ${input.listName} AND msisdn = ANY(${numbers}::text[])
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
      RETURNING 1
    )
    SELECT
      ((SELECT count(*) FROM upserted) - (SELECT count(*) FROM before))::int AS added,
      (SELECT count(*) FROM before WHERE deleted_at IS NULL)::int AS updated,
      (SELECT count(*) FROM before WHERE deleted_at IS NOT NULL)::int AS revived`.execute(db);
  const row = result.rows[0];
  return { added: row?.added ?? 0, updated: row?.updated ?? 0, revived: row?.revived ?? 0 };
}

/** The entry whether live or removed (removed ones keep their history for explain and audit). */
export async function findEntry(db: Kysely<Database>, listName: string, msisdn: string): Promise<ListEntryRow | undefined> {
  return db.selectFrom('list_entries').selectAll().where('list_name', '=', listName).where('msisdn', '=', msisdn).executeTakeFirst();
}

/** The live entry, row-locked so the caller's `before` is exact; undefined when there is none. */
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

/** How far a mirror may advance its watermark; see `changeHorizon`. */
export interface ChangeHorizon {
  /** Epoch microseconds before which every change is committed (for the sessions we can see). */
  us: number;
  /** Some sessions' transaction starts are hidden from this role: the horizon may be too late. */
  uncertain: boolean;
}

/**
 * The earlier of now and the start of the oldest transaction still open in this database. A row
 * stamped `now()` by a transaction that has not committed yet carries a time no earlier than that
 * transaction's start, so a mirror that has read everything up to here has missed nothing. Without
 * pg_read_all_stats, other roles' sessions show no start; the mirror then re-reads an overlap window.
 */
export async function changeHorizon(db: Kysely<Database>): Promise<ChangeHorizon> {
  const result = await sql<{ horizon_us: number; hidden: number }>`
    SELECT (extract(epoch FROM least(statement_timestamp(), min(xact_start))) * 1000000)::bigint AS horizon_us,
      count(*) FILTER (WHERE state IS NULL)::int AS hidden
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`.execute(db);
  const row = result.rows[0]!;
  return { us: Number(row.horizon_us), uncertain: row.hidden > 0 };
}

/** Keyset position in `(updated_at, list_name, msisdn)` order. */
export interface EntryChangeKey {
  updatedUs: number;
  listName: string;
  msisdn: string;
}

/** Separators of a change page: ASCII unit and record separators, which no list name or number holds. */
export const FIELD_SEPARATOR = '\x1f';
export const RECORD_SEPARATOR = '\x1e';

/**
 * Entries changed at or after `sinceUs` (all of them when undefined), in change order, after
 * `after`: one text of records `list_name, msisdn, expires_us, deleted (t/f), updated_us`, fields
 * and records separated by FIELD_SEPARATOR / RECORD_SEPARATOR, expires_us empty for none.
 *
 * One text value instead of rows because the mirror reads 100k changes at a time and pg's
 * per-field parsing was most of its cost; microsecond integers, not dates, because a JS Date drops
 * the microseconds the keyset needs.
 */
export async function readEntryChangePage(
  db: Kysely<Database>,
  query: { sinceUs?: number; after?: EntryChangeKey; limit: number },
): Promise<{ rows: number; text: string }> {
  const at = (us: number) => sql`(timestamptz 'epoch' + ${us} * interval '1 microsecond')`;
  const since = query.sinceUs === undefined ? sql`TRUE` : sql`updated_at >= ${at(query.sinceUs)}`;
  const after = query.after
    ? sql`(updated_at, list_name, msisdn) > (${at(query.after.updatedUs)}, ${query.after.listName}, ${query.after.msisdn})`
    : sql`TRUE`;
  const result = await sql<{ rows: number; text: string | null }>`
    SELECT count(*)::int AS rows, string_agg(concat_ws(${FIELD_SEPARATOR},
        list_name, msisdn,
        coalesce(((extract(epoch FROM expires_at) * 1000000)::bigint)::text, ''),
        CASE WHEN deleted_at IS NULL THEN 'f' ELSE 't' END,
        (extract(epoch FROM updated_at) * 1000000)::bigint),
      ${RECORD_SEPARATOR} ORDER BY updated_at, list_name, msisdn) AS text
    FROM (
      SELECT list_name, msisdn, expires_at, deleted_at, updated_at FROM list_entries
      WHERE ${since} AND ${after}
      ORDER BY updated_at, list_name, msisdn
      LIMIT ${query.limit}
    ) page`.execute(db);
  const row = result.rows[0];
  return { rows: row?.rows ?? 0, text: row?.text ?? '' };
}
