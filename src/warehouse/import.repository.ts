import type { Selectable } from 'kysely';
import type { Db } from '../db/kysely.js';
import type { ImportsTable } from '../db/schema.js';
import type { FieldProblem } from '../http/errors.js';

export type ImportStatus = ImportsTable['status'];

export interface ImportRecord {
  id: string;
  dataset: string;
  format: string;
  mode: string;
  source: string;
  status: ImportStatus;
  rowsLoaded: number;
  rowsRejected: number;
  errors: FieldProblem[];
  snapshotVersion: number | null;
  durationMs: number;
  createdBy: string;
  createdAt: string;
}

type Row = Selectable<ImportsTable>;

function toRecord(row: Row): ImportRecord {
  return {
    id: row.id,
    dataset: row.dataset,
    format: row.format,
    mode: row.mode,
    source: row.source,
    status: row.status,
    rowsLoaded: row.rows_loaded,
    rowsRejected: row.rows_rejected,
    errors: row.errors,
    snapshotVersion: row.snapshot_version,
    durationMs: row.duration_ms,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

/** The attempt as `running`, written before the file is read so that even a killed import leaves its record. */
export async function insertRunningImport(
  db: Db,
  input: Pick<ImportRecord, 'dataset' | 'format' | 'mode' | 'source' | 'createdBy'>,
): Promise<ImportRecord> {
  return insertImportRecord(db, { ...input, status: 'running', rowsLoaded: 0, rowsRejected: 0, errors: [], snapshotVersion: null, durationMs: 0 });
}

/**
 * Closes an attempt with its outcome. By id whatever its status: a start that found it `running`
 * may have called it interrupted while it was still under way elsewhere (tests share Postgres).
 */
export async function finishImportRecord(
  db: Db,
  id: string,
  outcome: Pick<ImportRecord, 'status' | 'rowsLoaded' | 'rowsRejected' | 'errors' | 'snapshotVersion' | 'durationMs'>,
): Promise<ImportRecord> {
  const row = await db
    .updateTable('imports')
    .set({
      status: outcome.status,
      rows_loaded: outcome.rowsLoaded,
      rows_rejected: outcome.rowsRejected,
      errors: JSON.stringify(outcome.errors),
      snapshot_version: outcome.snapshotVersion,
      duration_ms: outcome.durationMs,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Imports still `running` when the warehouse's owner starts: their process died; returns how many. */
export async function closeInterruptedImports(db: Db, error: FieldProblem): Promise<number> {
  const result = await db
    .updateTable('imports')
    .set({ status: 'interrupted', errors: JSON.stringify([error]) })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function insertImportRecord(db: Db, input: Omit<ImportRecord, 'id' | 'createdAt'>): Promise<ImportRecord> {
  const row = await db
    .insertInto('imports')
    .values({
      dataset: input.dataset,
      format: input.format,
      mode: input.mode,
      source: input.source,
      status: input.status,
      rows_loaded: input.rowsLoaded,
      rows_rejected: input.rowsRejected,
      errors: JSON.stringify(input.errors),
      snapshot_version: input.snapshotVersion,
      duration_ms: input.durationMs,
      created_by: input.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

export async function findImportRecord(db: Db, id: string): Promise<ImportRecord | undefined> {
  const row = await db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Newest first, optionally for one dataset. */
export async function listImportRecords(db: Db, filter: { dataset?: string; limit: number }): Promise<ImportRecord[]> {
  let query = db.selectFrom('imports').selectAll().orderBy('created_at', 'desc').limit(filter.limit);
  if (filter.dataset) query = query.where('dataset', '=', filter.dataset);
  return (await query.execute()).map(toRecord);
}
