import type { DuckDBConnection } from '@duckdb/node-api';
import type { PersonalKind } from '../catalog/catalog.js';
import { SqlParams, type AnySqlParams } from '../conditions/params.js';
import { ident, toPlainRows, type Row, type Warehouse } from '../warehouse/duckdb.js';
import { PROFILE_TABLE } from '../warehouse/schema.js';
import { segmentMembersTable, segmentNumbersTable } from '../warehouse/tables.js';
import { loadPhoneNumbers, type PhoneNumberReport } from '../uploads/phone-numbers.js';
import { assertNever } from '../util/assert-never.js';
import { previewQuery, readPreviewRows, type PreviewCounts, type PreviewRequest } from './preview.query.js';

/** A compiled condition: a two-valued boolean over the profile row `alias`, adding its values to `params`. */
export interface CustomerPredicate {
  predicate(params: AnySqlParams, alias?: string): string;
}

export type { BreakdownValue, PreviewCounts, PreviewRequest } from './preview.query.js';

/** Dataset → snapshot version, read in the same transaction as the members it describes. */
export type SnapshotVersions = Record<string, number>;

export interface Materialised {
  count: number;
  snapshotVersions: SnapshotVersions;
}

export interface Refreshed extends Materialised {
  before: number;
  added: number;
  removed: number;
}

export interface UploadMaterialised extends Materialised {
  file: PhoneNumberReport;
  /** Valid numbers of the file that no customer has. */
  notInWarehouse: { count: number; first: string[] };
}

/** The members page columns, also the export's columns, in order. */
export const MEMBER_COLUMNS = ['customer_id', 'msisdn', 'name', 'city', 'county', 'grid_id', 'brand'] as const;
// A type alias, not an interface, so it stays assignable to the warehouse's Row.
export type MemberRow = {
  customer_id: number;
  msisdn: string | null;
  name: string | null;
  city: string | null;
  county: string | null;
  grid_id: string | null;
  brand: string | null;
};

export interface ExportPage {
  rows: number;
  csv: string;
  tableOid: number | null;
}

/** How many numbers not found in the warehouse an upload lists (all are counted). */
export const UNKNOWN_LISTED = 100;

const PROFILE = ident(PROFILE_TABLE);

async function readRows<T extends Row>(c: DuckDBConnection, sql: string, values: SqlParams['values'] = []): Promise<T[]> {
  return toPlainRows<T>((await c.runAndReadAll(sql, values)).getRowObjectsJS());
}

async function countRows(c: DuckDBConnection, table: string): Promise<number> {
  const [row] = await readRows<{ n: number }>(c, `SELECT count(*)::BIGINT AS n FROM ${table}`);
  return row?.n ?? 0;
}

async function snapshotVersions(c: DuckDBConnection): Promise<SnapshotVersions> {
  const rows = await readRows<{ dataset: string; version: number }>(c, 'SELECT dataset, version FROM _snapshots ORDER BY dataset');
  return Object.fromEntries(rows.map((r) => [r.dataset, r.version]));
}

async function tableExists(c: DuckDBConnection, quotedName: string): Promise<boolean> {
  const [row] = await readRows<{ n: number }>(
    c,
    `SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $1`,
    [quotedName.slice(1, -1)],
  );
  return (row?.n ?? 0) > 0;
}

/**
 * The DuckDB side of segments: previews, member tables (one `customer_id` column, sorted, so
 * `{segment}` semi-joins and keyset pages prune by zone maps), refresh diffs, member pages and
 * upload matching. Every statement binds its values; identifiers come from the catalog or ids.
 */
export class SegmentEngine {
  constructor(private readonly warehouse: Warehouse) {}

  /**
   * Count and every breakdown in ONE scan (`previewQuery`). The same scan names a customer of every
   * group (`arbitrary`, nearly free), which is the sample: one customer per city, per brand…, fetched
   * by id. Evaluating the condition a second time for a sample cost a third of the preview when the
   * condition joins big member tables. Only when the groups name too few customers does a LIMITed
   * query fetch the sample instead.
   */
  async preview(condition: CustomerPredicate, request: PreviewRequest): Promise<PreviewCounts> {
    const params = new SqlParams();
    const sql = previewQuery(condition.predicate(params, 'c'), request, params);
    return this.warehouse.read(async (c) => {
      const { count, breakdown, sampleIds } = readPreviewRows(await readRows<Record<string, unknown>>(c, sql, params.values), request);
      const enough = sampleIds.length >= Math.min(request.sampleSize, count);
      const sample =
        count === 0 || request.sampleSize === 0
          ? []
          : enough
            ? await this.rowsById(c, sampleIds, request.sampleColumns)
            : await this.sampleRows(c, condition, request);
      return { count, breakdown, sample };
    });
  }

  private async rowsById(c: DuckDBConnection, ids: number[], columns: string[]): Promise<Row[]> {
    const placeholders = ids.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await readRows(
      c,
      `SELECT ${columns.map((col) => ident(col)).join(', ')} FROM ${PROFILE} WHERE customer_id IN (${placeholders}) ORDER BY customer_id`,
      ids.map((id) => BigInt(id)),
    );
    return rows.map(plainDates);
  }

  private async sampleRows(c: DuckDBConnection, condition: CustomerPredicate, request: PreviewRequest): Promise<Row[]> {
    const params = new SqlParams();
    const where = condition.predicate(params, 'c');
    const limit = params.add(request.sampleSize, 'INTEGER');
    const rows = await readRows(
      c,
      `SELECT ${request.sampleColumns.map((col) => `c.${ident(col)}`).join(', ')} FROM ${PROFILE} c WHERE ${where} LIMIT ${limit}`,
      params.values,
    );
    return rows.map(plainDates);
  }

  /** Creates the segment's member table from `condition`, inside one warehouse transaction. */
  async materialise(segmentId: string, condition: CustomerPredicate): Promise<Materialised> {
    const table = segmentMembersTable(segmentId);
    return this.warehouse.transaction(async (c) => {
      await this.createMembers(c, table, condition);
      return { count: await countRows(c, table), snapshotVersions: await snapshotVersions(c) };
    });
  }

  /**
   * Recomputes the member table on the current snapshot and swaps it in atomically; readers keep
   * the old members until the commit. Reports the change as counts of added and removed customers.
   */
  async refresh(segmentId: string, condition: CustomerPredicate): Promise<Refreshed> {
    const table = segmentMembersTable(segmentId);
    return this.warehouse.transaction((c) => this.replaceMembers(c, table, (next) => this.createMembers(c, next, condition)));
  }

  /** Builds the next member table beside `table` with `create`, then swaps it in. */
  private async replaceMembers(c: DuckDBConnection, table: string, create: (next: string) => Promise<void>): Promise<Refreshed> {
    const next = ident(`${table.slice(1, -1)}_next`);
    await c.run(`DROP TABLE IF EXISTS ${next}`);
    await create(next);
    return this.swapIn(c, table, next);
  }

  private async createMembers(c: DuckDBConnection, table: string, condition: CustomerPredicate): Promise<void> {
    const params = new SqlParams();
    const where = condition.predicate(params, 'c');
    await c.run(`CREATE TABLE ${table} AS SELECT c.customer_id FROM ${PROFILE} c WHERE ${where} ORDER BY c.customer_id`, params.values);
  }

  private async swapIn(c: DuckDBConnection, table: string, next: string): Promise<Refreshed> {
    const exists = await tableExists(c, table);
    const count = await countRows(c, next);
    let before = 0;
    let added = count;
    if (exists) {
      before = await countRows(c, table);
      const [row] = await readRows<{ n: number }>(
        c,
        `SELECT count(*)::BIGINT AS n FROM ${next} n WHERE NOT EXISTS (SELECT 1 FROM ${table} o WHERE o.customer_id = n.customer_id)`,
      );
      added = row?.n ?? 0;
      await c.run(`DROP TABLE ${table}`);
    }
    await c.run(`ALTER TABLE ${next} RENAME TO ${table}`);
    return { count, before, added, removed: before - (count - added), snapshotVersions: await snapshotVersions(c) };
  }

  /**
   * An upload segment: the file's distinct valid numbers are kept (for refresh), and the members
   * are every customer whose msisdn is among them.
   */
  async materialiseUpload(segmentId: string, filePath: string, msisdnPattern: string): Promise<UploadMaterialised> {
    const numbers = segmentNumbersTable(segmentId);
    const members = segmentMembersTable(segmentId);
    return this.warehouse.transaction(async (c) => {
      const file = await loadPhoneNumbers(c, filePath, { pattern: msisdnPattern, table: numbers });
      await this.createUploadMembers(c, members, numbers);
      return {
        file,
        ...(await this.unknownNumbers(c, numbers)),
        count: await countRows(c, members),
        snapshotVersions: await snapshotVersions(c),
      };
    });
  }

  /** Re-matches an upload segment's kept numbers against the current customers. */
  async refreshUpload(segmentId: string): Promise<Refreshed & Pick<UploadMaterialised, 'notInWarehouse'>> {
    const numbers = segmentNumbersTable(segmentId);
    const members = segmentMembersTable(segmentId);
    return this.warehouse.transaction(async (c) => {
      const refreshed = await this.replaceMembers(c, members, (next) => this.createUploadMembers(c, next, numbers));
      return { ...refreshed, ...(await this.unknownNumbers(c, numbers)) };
    });
  }

  private async createUploadMembers(c: DuckDBConnection, members: string, numbers: string): Promise<void> {
    await c.run(`CREATE TABLE ${members} AS
      SELECT DISTINCT p.customer_id FROM ${PROFILE} p SEMI JOIN ${numbers} n ON n.msisdn = p.msisdn ORDER BY p.customer_id`);
  }

  private async unknownNumbers(c: DuckDBConnection, numbers: string): Promise<Pick<UploadMaterialised, 'notInWarehouse'>> {
    const unknown = `SELECT n.msisdn FROM ${numbers} n ANTI JOIN ${PROFILE} p ON p.msisdn = n.msisdn`;
    const [counted] = await readRows<{ n: number }>(c, `SELECT count(*)::BIGINT AS n FROM (${unknown})`);
    const first = await readRows<{ msisdn: string }>(c, `${unknown} ORDER BY n.msisdn LIMIT ${UNKNOWN_LISTED}`);
    return { notInWarehouse: { count: counted?.n ?? 0, first: first.map((r) => r.msisdn) } };
  }

  /** One keyset page of members after `afterCustomerId`, joined to their current profile. */
  async membersPage(segmentId: string, afterCustomerId: number | undefined, limit: number): Promise<MemberRow[]> {
    const table = segmentMembersTable(segmentId);
    const values: bigint[] = [BigInt(limit)];
    let after = '';
    if (afterCustomerId !== undefined) {
      values.push(BigInt(afterCustomerId));
      after = 'WHERE customer_id > $2';
    }
    // The page is cut first, then joined: the join's key range then prunes the profile scan.
    // A LEFT JOIN keeps members whose customer left the warehouse since materialisation.
    const sql = `
      WITH page AS (SELECT customer_id FROM ${table} ${after} ORDER BY customer_id LIMIT $1)
      SELECT page.customer_id, ${MEMBER_COLUMNS.slice(1).map((col) => `p.${ident(col)}`).join(', ')}
      FROM page LEFT JOIN ${PROFILE} p ON p.customer_id = page.customer_id
      ORDER BY page.customer_id`;
    return this.warehouse.query<MemberRow>(sql, values);
  }

  /**
   * Members `fromRow …` (by position in the member table, which is sorted by customer_id) as CSV
   * lines built by DuckDB: one string per page instead of seven values per row through the driver,
   * which made an export four times slower. `tableOid` identifies the member table version the page
   * came from; a refresh swaps in a new table, so a change between pages means a torn export.
   */
  async exportPage(segmentId: string, fromRow: number, rows: number, masked: MaskedColumns): Promise<ExportPage> {
    const table = segmentMembersTable(segmentId);
    const value = (col: string) => {
      const kind = masked.get(col);
      return kind ? maskedSql(kind, `p.${ident(col)}`) : `p.${ident(col)}`;
    };
    const fields = ['CAST(m.customer_id AS VARCHAR)', ...MEMBER_COLUMNS.slice(1).map((col) => csvTextSql(value(col)))];
    const sql = `
      SELECT count(*)::BIGINT AS n,
             string_agg(concat_ws(',', ${fields.map((f) => `coalesce(${f}, '')`).join(', ')}) || chr(13) || chr(10), '' ORDER BY m.customer_id) AS csv,
             (SELECT table_oid FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $3) AS table_oid
      FROM (SELECT customer_id FROM ${table} WHERE rowid >= $1 AND rowid < $2) m
      LEFT JOIN ${PROFILE} p ON p.customer_id = m.customer_id`;
    const [row] = await this.warehouse.query<{ n: number; csv: string | null; table_oid: number | null }>(sql, [
      BigInt(fromRow),
      BigInt(fromRow + rows),
      table.slice(1, -1),
    ]);
    return { rows: row?.n ?? 0, csv: row?.csv ?? '', tableOid: row?.table_oid ?? null };
  }

  /** Whether an upload segment still has the numbers it was built from (a refresh needs them). */
  async uploadNumbersKept(segmentId: string): Promise<boolean> {
    return this.warehouse.read((c) => tableExists(c, segmentNumbersTable(segmentId)));
  }

  /** Drops the member table and an upload's kept numbers. */
  async drop(segmentId: string): Promise<void> {
    await this.warehouse.write(async (c) => {
      await c.run(`DROP TABLE IF EXISTS ${segmentMembersTable(segmentId)}`);
      await c.run(`DROP TABLE IF EXISTS ${segmentNumbersTable(segmentId)}`);
    });
  }
}

/** The personal columns to mask, by name, with their kind (from the catalog); absent ones go out whole. */
export type MaskedColumns = ReadonlyMap<string, PersonalKind>;

function maskedSql(kind: PersonalKind, expression: string): string {
  switch (kind) {
    case 'msisdn':
      return maskedMsisdnSql(expression);
    case 'name':
      return maskedNameSql(expression);
    default:
      return assertNever(kind);
  }
}

/** `maskName` (src/security/mask.ts) as SQL: DuckDB's `length` and `left` count characters, as it does. */
export function maskedNameSql(expression: string): string {
  return `CASE WHEN length(${expression}) <= 1 THEN ${expression} ELSE left(${expression}, 1) || repeat('*', length(${expression}) - 1) END`;
}

/**
 * `maskMsisdn` (src/security/mask.ts) as SQL, for exports built inside DuckDB; a test holds the two
 * to the same answers.
 */
export function maskedMsisdnSql(expression: string): string {
  return `CASE WHEN length(${expression}) >= 11 THEN left(${expression}, 3) || '****' || right(${expression}, 4)
    WHEN length(${expression}) <= 4 THEN '****'
    ELSE repeat('*', length(${expression}) - 4) || right(${expression}, 4) END`;
}

/**
 * A text value as one CSV field: quoted when it holds a comma, quote or line break, and prefixed
 * with ' when a spreadsheet would run it as a formula (= + - @, tab, carriage return).
 */
export function csvTextSql(expression: string): string {
  const guarded = `CASE WHEN regexp_matches(${expression}, '^[=+\\-@\t\r]') THEN '''' || ${expression} ELSE ${expression} END`;
  return `CASE WHEN regexp_matches(${guarded}, '[",\r\n]') THEN '"' || replace(${guarded}, '"', '""') || '"' ELSE ${guarded} END`;
}

/** DATE values as `YYYY-MM-DD`, the form they were imported in, instead of midnight UTC instants. */
function plainDates(row: Row): Row {
  for (const key in row) {
    const value = row[key];
    if (value instanceof Date) row[key] = value.toISOString().slice(0, 10);
  }
  return row;
}
