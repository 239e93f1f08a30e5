import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { Catalog, Dataset } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import type { Actor } from '../security/roles.js';
import { toStorableText } from '../util/storable-text.js';
import { buildProfile, rebuildDerivedTables, PROFILE_SOURCES } from './derive.js';
import { ident, type Warehouse } from './duckdb.js';
import { finishImportRecord, insertRunningImport, type ImportRecord } from './import.repository.js';
import {
  anyRejectedSql,
  checkedTypedSelectSql,
  checkHeader,
  hasRepeatedKey,
  MAX_REPORTED_PROBLEMS,
  rejectedCellsSql,
  rowPath,
  typedSelectSql,
} from './import.validate.js';
import { CUSTOMERS, PROFILE_TABLE } from './schema.js';

export type ImportFormat = 'csv' | 'parquet';
export type ImportMode = 'replace' | 'append';

export interface ImportRequest {
  dataset: string;
  path: string;
  format: ImportFormat;
  mode: ImportMode;
}

/** `.parquet`/`.pq` files are Parquet, everything else CSV, unless the caller says otherwise. */
export function formatOfFilename(filename: string): ImportFormat {
  return /\.(parquet|pq)$/i.test(filename) ? 'parquet' : 'csv';
}

export type ImportPhase = 'reading' | 'validating' | 'loading' | 'deriving';
export type ProgressListener = (phase: ImportPhase, percent: number | undefined) => void;

export interface ImportOptions {
  /** The path was chosen by Quanke itself (a streamed upload, the sample data): skip the IMPORT_DIR rule. */
  trustedPath?: boolean;
  /** What the import record names as the source (default: the path). */
  sourceLabel?: string;
  onProgress?: ProgressListener;
}

/**
 * Called inside the import's DuckDB transaction after a dataset (and its derived tables) changed,
 * so dependants (e.g. list members resolved to customer ids) switch at the same instant.
 */
export type DatasetChangeListener = (dataset: string, connection: DuckDBConnection) => Promise<void>;

// A fixed dialect, not the sniffer's guess: a file that is not this CSV should fail loudly.
const CSV_OPTIONS = `delim = ',', quote = '"', escape = '"', all_varchar = true`;

/**
 * Validated, atomic imports into the warehouse. Every cell is checked against the catalog (rows and
 * columns of the first problems are reported), and only a clean file is swapped in, in one DuckDB
 * transaction together with the snapshot version and the derived tables. A rejected file changes
 * nothing; queries running meanwhile see the old snapshot.
 */
export class ImportService {
  private readonly listeners: DatasetChangeListener[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      warehouse: Warehouse;
      catalog: Catalog;
      config: Pick<Config, 'IMPORT_DIR' | 'USAGE_WINDOW_MONTHS'>;
      logger: Logger;
    },
  ) {}

  onDatasetChanged(listener: DatasetChangeListener): void {
    this.listeners.push(listener);
  }

  async importFile(request: ImportRequest, actor: Actor, options: ImportOptions = {}): Promise<ImportRecord> {
    const started = performance.now();
    const dataset = this.deps.catalog.dataset(request.dataset);
    if (!dataset) {
      const known = this.deps.catalog.datasets.map((d) => d.name).join(', ');
      throw new AppError('VALIDATION', `Unknown dataset "${request.dataset}"`, [{ path: 'dataset', message: `must be one of ${known}` }]);
    }
    const file = options.trustedPath ? path.resolve(request.path) : await this.resolveImportPath(request.path);
    await assertReadableFile(file);
    assertLiteralForDuckDb(file);
    const source = options.sourceLabel ?? request.path;
    const attempt = await insertRunningImport(this.deps.db, {
      dataset: dataset.name,
      format: request.format,
      mode: request.mode,
      source,
      createdBy: actor.name,
    });
    const record = (status: 'succeeded' | 'failed', fields: Partial<ImportRecord>) =>
      finishImportRecord(this.deps.db, attempt.id, {
        status,
        rowsLoaded: fields.rowsLoaded ?? 0,
        rowsRejected: fields.rowsRejected ?? 0,
        // Problems may quote the file's bytes; the record of a failure must not fail in turn.
        errors: (fields.errors ?? []).map((p) => ({ path: toStorableText(p.path), message: toStorableText(p.message) })),
        snapshotVersion: fields.snapshotVersion ?? null,
        durationMs: Math.round(performance.now() - started),
      });

    let outcome: LoadOutcome;
    try {
      outcome = await this.deps.warehouse.write((c) => this.load(c, dataset, file, request, options.onProgress));
    } catch (error) {
      if (error instanceof ImportRejection) {
        const failed = await record('failed', { rowsRejected: error.rowsRejected, errors: error.problems });
        throw new AppError(
          'IMPORT_REJECTED',
          `${dataset.name}: ${error.summary}; nothing was loaded`,
          error.problems,
          { importId: failed.id, rowsRejected: error.rowsRejected },
        );
      }
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500);
      await record('failed', { errors: [{ path: 'file', message }] }).catch(() => undefined);
      throw error;
    }
    const done = await record('succeeded', outcome);
    this.deps.logger.info(
      { dataset: dataset.name, rows: outcome.rowsLoaded, version: outcome.snapshotVersion, ms: done.durationMs },
      'import succeeded',
    );
    return done;
  }

  /**
   * Only files inside IMPORT_DIR, after resolving `..` and symbolic links. DuckDB's readers expand
   * glob patterns in the name they are given, so a pattern would let the check pass on one name
   * while DuckDB reads others (a symlink to outside among them): the requested name is refused if
   * it has one, and DuckDB is handed the resolved target itself, the one file this check judged.
   */
  private async resolveImportPath(requested: string): Promise<string> {
    if (GLOB_CHARACTERS.test(requested)) {
      throw new AppError('VALIDATION', 'The import path names one file; pattern characters (* ? [ ] { }) are not allowed', [
        { path: 'path', message: 'contains a pattern character (* ? [ ] { })' },
      ]);
    }
    const root = await fs.realpath(this.deps.config.IMPORT_DIR).catch(() => path.resolve(this.deps.config.IMPORT_DIR));
    const candidate = path.resolve(root, requested);
    const real = await fs.realpath(candidate).catch(() => candidate);
    const inside = (p: string) => p === root || p.startsWith(root + path.sep);
    if (!inside(candidate) || !inside(real)) {
      throw new AppError('PATH_FORBIDDEN', `Imports may only read files inside the import folder (IMPORT_DIR)`, [
        { path: 'path', message: 'outside the import folder' },
      ]);
    }
    return real;
  }

  private async load(
    c: DuckDBConnection,
    dataset: Dataset,
    file: string,
    request: ImportRequest,
    onProgress: ProgressListener | undefined,
  ): Promise<LoadOutcome> {
    onProgress?.('reading', 0);
    const header = await readHeader(c, file, request.format);
    const headerProblems = checkHeader(dataset, header);
    if (headerProblems.length > 0) throw new ImportRejection('the columns do not fit the catalog', headerProblems, 0);
    return request.mode === 'replace'
      ? this.replaceInOnePass(c, dataset, file, request.format, onProgress)
      : this.appendStaged(c, dataset, file, request.format, onProgress);
  }

  /**
   * A replace reads the file once: one statement reads it, checks every cell (the first bad row
   * stops it), types the columns and writes the new table (for customers, the profile: the file
   * joined to the usage pivot, so the customers are written once). Key duplicates are then checked
   * on the new table, still inside the transaction. A clean file, the usual case, costs DuckDB's
   * own load of it plus, for customers, the usage window's columns and the join that brings them
   * (bench/import.bench.ts prints the ratio). Anything going wrong rolls back, and the file is then
   * staged and checked cell by cell to name every problem, exactly as an append is: a rejected file
   * costs two reads, a clean one one.
   */
  private async replaceInOnePass(
    c: DuckDBConnection,
    dataset: Dataset,
    file: string,
    format: ImportFormat,
    onProgress: ProgressListener | undefined,
  ): Promise<LoadOutcome> {
    const rows = checkedTypedSelectSql(dataset, readerSql(format));
    const isCustomers = dataset.name === CUSTOMERS;
    const loaded = ident(isCustomers ? PROFILE_TABLE : dataset.name);
    await c.run('BEGIN TRANSACTION');
    try {
      await withProgress(c, (p) => onProgress?.('reading', p), async () => {
        if (isCustomers) await buildProfile(c, this.deps.catalog, this.deps.config.USAGE_WINDOW_MONTHS, rows, [file]);
        else await c.run(`CREATE OR REPLACE TABLE ${loaded} AS ${rows}`, [file]);
      }).catch((error: unknown) => {
        throw new FailedPass(error);
      });
      onProgress?.('validating', undefined);
      const count = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM ${loaded}`)).getRowObjectsJS()[0]?.n ?? 0);
      if (count === 0) throw new ImportRejection('the file has no data rows', [{ path: 'file', message: 'no data rows after the header' }], 0);
      if (await hasRepeatedKey(c, dataset, loaded)) throw new FailedPass(undefined);
      onProgress?.('loading', undefined);
      const outcome = await this.commitChange(c, dataset, count, onProgress);
      return outcome;
    } catch (error) {
      await c.run('ROLLBACK').catch(() => undefined);
      if (!(error instanceof FailedPass)) throw error;
      return this.explainFailedPass(c, dataset, file, format, error);
    }
  }

  /**
   * After a failed one-pass load (rolled back): stages the file and checks it cell by cell, so the
   * analyst gets the same report (rows and columns at fault) as the staged path gives. If the file
   * turns out clean, the pass failed for another reason, which is rethrown.
   */
  private async explainFailedPass(c: DuckDBConnection, dataset: Dataset, file: string, format: ImportFormat, failed: FailedPass): Promise<never> {
    const staging = stagingName(dataset);
    try {
      await stageAndValidate(c, dataset, staging, file, format, undefined, () => undefined);
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
    }
    throw failed.cause ?? new Error(`${dataset.name}: the import failed its checks, but the file shows no problem`);
  }

  /** An append: the file is staged, checked cell by cell and against the loaded keys, then added. */
  private async appendStaged(
    c: DuckDBConnection,
    dataset: Dataset,
    file: string,
    format: ImportFormat,
    onProgress: ProgressListener | undefined,
  ): Promise<LoadOutcome> {
    const staging = stagingName(dataset);
    const target = ident(dataset.name);
    try {
      const rows = await stageAndValidate(c, dataset, staging, file, format, target, onProgress);
      onProgress?.('loading', undefined);
      await c.run('BEGIN TRANSACTION');
      try {
        if (dataset.name === CUSTOMERS) {
          // The profile is rebuilt whole with the new rows after the old ones; `customers` is its view.
          const columns = dataset.columns.map((col) => ident(col.name)).join(', ');
          const all = `SELECT ${columns} FROM ${target} UNION ALL ${typedSelectSql(dataset, staging)}`;
          await buildProfile(c, this.deps.catalog, this.deps.config.USAGE_WINDOW_MONTHS, all);
        } else {
          await c.run(`INSERT INTO ${target} ${typedSelectSql(dataset, staging)}`);
        }
        const outcome = await this.commitChange(c, dataset, rows, onProgress);
        return outcome;
      } catch (error) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
    }
  }

  /**
   * Inside the import's transaction, once the dataset holds its new rows: the snapshot version, the
   * derived tables (a customers import has already written the profile), the dependants; COMMIT.
   */
  private async commitChange(c: DuckDBConnection, dataset: Dataset, rows: number, onProgress: ProgressListener | undefined): Promise<LoadOutcome> {
    const version = await bumpSnapshot(c, dataset.name);
    if (PROFILE_SOURCES.has(dataset.name) && dataset.name !== CUSTOMERS) {
      onProgress?.('deriving', undefined);
      await rebuildDerivedTables(c, this.deps.catalog, this.deps.config.USAGE_WINDOW_MONTHS, dataset.name);
    }
    for (const listener of this.listeners) await listener(dataset.name, c);
    await c.run('COMMIT');
    return { rowsLoaded: rows, snapshotVersion: version };
  }
}

/** A temp table name for one staged file. */
function stagingName(dataset: Dataset): string {
  return ident(`stg_${dataset.name}_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
}

/**
 * Reads the file into `staging` (all text for CSV, `_row` numbering the data rows) and checks every
 * cell, key duplicates and (when appending) keys already in `existing`; throws an ImportRejection
 * naming the first problems, or returns the number of rows.
 */
async function stageAndValidate(
  c: DuckDBConnection,
  dataset: Dataset,
  staging: string,
  file: string,
  format: ImportFormat,
  existing: string | undefined,
  onProgress: ProgressListener | undefined,
): Promise<number> {
  await withProgress(c, (p) => onProgress?.('reading', p), () => c.run(stagingSql(staging, format), [file]).catch(asFileProblem));
  const rows = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM ${staging}`)).getRowObjectsJS()[0]?.n ?? 0);
  if (rows === 0) throw new ImportRejection('the file has no data rows', [{ path: 'file', message: 'no data rows after the header' }], 0);

  onProgress?.('validating', undefined);
  const bad = (await c.runAndReadAll(anyRejectedSql(dataset, staging, existing))).getRowObjectsJS()[0]?.bad === true;
  if (!bad) return rows;
  const rejected = ident(`rej_${dataset.name}_${randomUUID().replaceAll('-', '').slice(0, 12)}`);
  try {
    await c.run(`CREATE TEMP TABLE ${rejected} AS ${rejectedCellsSql(dataset, staging, existing)}`);
    const rejectedRows = Number((await c.runAndReadAll(`SELECT count(DISTINCT _row) AS n FROM ${rejected}`)).getRowObjectsJS()[0]?.n ?? 0);
    const first = (
      await c.runAndReadAll(`SELECT _row, "column", reason FROM ${rejected} ORDER BY _row, "column" LIMIT ${MAX_REPORTED_PROBLEMS}`)
    ).getRowObjectsJS();
    const problems = first.map((r) => ({ path: rowPath(Number(r._row), String(r.column)), message: String(r.reason) }));
    throw new ImportRejection(`${rejectedRows} of ${rows} rows are not valid`, problems, rejectedRows);
  } finally {
    await c.run(`DROP TABLE IF EXISTS ${rejected}`).catch(() => undefined);
  }
}

/** The one-pass load failed (a bad row, a duplicate key, a file DuckDB cannot read, or anything else). */
class FailedPass extends Error {
  constructor(override readonly cause: unknown) {
    super('the one-pass load failed');
  }
}

interface LoadOutcome {
  rowsLoaded: number;
  snapshotVersion: number;
}

/** A file that does not fit: reported to the caller and recorded, never loaded. */
class ImportRejection extends Error {
  constructor(
    readonly summary: string,
    readonly problems: FieldProblem[],
    readonly rowsRejected: number,
  ) {
    super(summary);
  }
}

/** What DuckDB's file readers expand as a glob pattern. */
const GLOB_CHARACTERS = /[*?[\]{}]/;

/**
 * DuckDB reads exactly the file it is given only when the name holds no pattern character; a
 * resolved path can still hold one through IMPORT_DIR or UPLOAD_DIR themselves.
 */
function assertLiteralForDuckDb(file: string): void {
  if (GLOB_CHARACTERS.test(file)) {
    throw new AppError('VALIDATION', 'The file cannot be read: its location contains a pattern character (* ? [ ] { })', [
      { path: 'path', message: 'the resolved location contains a pattern character' },
    ]);
  }
}

async function assertReadableFile(file: string): Promise<void> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat || !stat.isFile()) {
    throw new AppError('FILE_NOT_FOUND', `No file at ${path.basename(file)}`, [{ path: 'path', message: 'no such file' }]);
  }
  if (stat.size === 0) throw new AppError('BAD_FILE', 'The file is empty', [{ path: 'file', message: 'empty file' }]);
}

/**
 * The header as written: Parquet's schema, or the CSV's first line. Column names are identifiers,
 * so splitting the first line on commas (dropping quotes) is exact; reading it ourselves, rather
 * than through DuckDB's sniffer, still works when the header and the rows disagree in width.
 */
async function readHeader(c: DuckDBConnection, file: string, format: ImportFormat): Promise<string[]> {
  if (format === 'parquet') {
    try {
      const rows = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet($1)`, [file])).getRowObjectsJS();
      return rows.map((r) => String(r.column_name));
    } catch (error) {
      return asFileProblem(error);
    }
  }
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    const end = text.search(/\r?\n/);
    if (end === -1 && bytesRead === buffer.length) {
      throw new ImportRejection('the header line is too long', [{ path: 'header', message: 'no line break in the first 64 KiB' }], 0);
    }
    const line = end === -1 ? text : text.slice(0, end);
    return line.split(',').map((name) => name.trim().replace(/^"(.*)"$/, '$1'));
  } finally {
    await handle.close();
  }
}

/** The file's reader, its path bound as $1. */
function readerSql(format: ImportFormat): string {
  return format === 'parquet' ? 'read_parquet($1)' : `read_csv($1, header = true, ${CSV_OPTIONS})`;
}

function stagingSql(staging: string, format: ImportFormat): string {
  // row_number() over an unordered scan runs as a streaming window in file order (insertion
  // order is preserved), so _row counts data rows from 1, like Parquet's file_row_number + 1.
  if (format === 'parquet') {
    return `CREATE TEMP TABLE ${staging} AS
      SELECT file_row_number + 1 AS _row, * EXCLUDE (file_row_number) FROM read_parquet($1, file_row_number = true)`;
  }
  return `CREATE TEMP TABLE ${staging} AS
    SELECT row_number() OVER () AS _row, * FROM read_csv($1, header = true, ${CSV_OPTIONS})`;
}

async function bumpSnapshot(c: DuckDBConnection, dataset: string): Promise<number> {
  const reader = await c.runAndReadAll(
    `INSERT INTO _snapshots (dataset, version, row_count, imported_at)
     VALUES ($1, 1, (SELECT count(*) FROM ${ident(dataset)}), now())
     ON CONFLICT (dataset) DO UPDATE SET version = _snapshots.version + 1, row_count = excluded.row_count, imported_at = excluded.imported_at
     RETURNING version`,
    [dataset],
  );
  return Number(reader.getRowObjectsJS()[0]?.version);
}

/** DuckDB's reader errors (ragged rows, bad quoting, not Parquet) are problems with the file. */
function asFileProblem(error: unknown): never {
  const message = (error as Error).message ?? String(error);
  if (/Invalid Input Error|Conversion Error|CSV Error|Parser Error|No magic bytes|not a parquet file|IO Error/i.test(message)) {
    throw new ImportRejection('the file cannot be read', [{ path: 'file', message: message.split('\n')[0]!.slice(0, 500) }], 0);
  }
  throw error;
}

/** Polls DuckDB's own progress of the running statement for the CLI's progress bar. */
async function withProgress<T>(c: DuckDBConnection, report: (percent: number) => void, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    const percent = c.progress.percentage;
    if (percent >= 0) report(percent);
  }, 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    report(100);
  }
}
