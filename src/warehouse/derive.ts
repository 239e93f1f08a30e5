import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { sqlType, type Catalog } from '../catalog/catalog.js';
import { ident, type Warehouse } from './duckdb.js';
import { CUSTOMERS, PROFILE_TABLE, profileUsageColumn, usageMeasures } from './schema.js';

/** Datasets whose change requires the customer profile to be rebuilt. */
export const PROFILE_SOURCES = new Set([CUSTOMERS, 'usage_monthly']);

const PIVOT_TABLE = 'usage_pivot';

function pivotColumns(catalog: Catalog, windowMonths: number): string[] {
  return usageMeasures(catalog).flatMap((m) => Array.from({ length: windowMonths }, (_, i) => profileUsageColumn(m, i + 1)));
}

function customerColumns(catalog: Catalog) {
  return catalog.dataset(CUSTOMERS)!.columns;
}

/**
 * `customer_profile` is the one physical copy of the customers: their catalog columns, in catalog
 * order and types, followed by the usage pivot's columns. `customers` is a view of the profile's
 * customer columns, so a customers import writes each customer once, in the same statement that
 * reads and validates the file and joins the pivot (see ImportService). Measured at 1M customers
 * on this 2-core machine (CPU seconds, one thread, Parquet): writing the 18 customer columns costs
 * ~3.5 s, nine text columns nearly all of it; the old import wrote them into `customers`, then
 * again into the profile. Now the one statement costs what DuckDB's own load of the file costs
 * plus ~1.4 s for the 24 usage columns and ~1.4 s for the join to the pivot (both scale with the
 * usage window, not the file); checking every cell in the same pass adds ~0.3 s. The reverse
 * layout (the profile a view over a `customers` table) is not possible: the bitmap engine needs
 * the profile's dense rowids and table oid.
 */
function customersViewSql(catalog: Catalog): string {
  const columns = customerColumns(catalog).map((c) => ident(c.name)).join(', ');
  return `CREATE OR REPLACE VIEW ${ident(CUSTOMERS)} AS SELECT ${columns} FROM ${ident(PROFILE_TABLE)}`;
}

/**
 * Replaces the profile with `customerRows` (a SELECT of the catalog's customer columns, typed,
 * aliased by name) left-joined to the usage pivot, and (re)creates the `customers` view over it.
 * The profile is always a new table (CREATE OR REPLACE), never updated in place, so its rowids are
 * dense 0…rows−1 and its oid names the build. Run it inside the caller's transaction.
 */
export async function buildProfile(
  connection: DuckDBConnection,
  catalog: Catalog,
  windowMonths: number,
  customerRows: string,
  params: DuckDBValue[] = [],
  /** An older warehouse's `customers` table is the source: drop it once the profile holds its rows. */
  dropCustomersTable = false,
): Promise<void> {
  const customers = customerColumns(catalog).map((c) => `f.${ident(c.name)}`);
  const names = pivotColumns(catalog, windowMonths);
  const types = await emptyPivotTypes(connection);
  const empty = types && names.every((c) => types.has(c)) ? types : undefined;
  // With no usage yet (a new warehouse's first customers import) the usage columns are NULLs of
  // the pivot's types: without a join DuckDB writes the table in parallel batches, as fast as its
  // own load of the file.
  const pivot = empty ? names.map((c) => `CAST(NULL AS ${empty.get(c)!}) AS ${ident(c)}`) : names.map((c) => `p.${ident(c)}`);
  const join = empty ? '' : ` LEFT JOIN ${PIVOT_TABLE} p ON p.customer_id = f.customer_id`;
  // No ORDER BY: rows come in the order the parallel join hands them over (not the file's), and
  // sorting 10M wide rows costs more than it saves; every query reaches the profile by hash join
  // or full scan anyway.
  await connection.run(
    `CREATE OR REPLACE TABLE ${ident(PROFILE_TABLE)} AS
    SELECT ${[...customers, ...pivot].join(', ')}
    FROM (${customerRows}) f${join}`,
    params,
  );
  if (dropCustomersTable) await connection.run(`DROP TABLE ${ident(CUSTOMERS)}`);
  await connection.run(customersViewSql(catalog));
}

/** The usage pivot's column types when it has no rows; undefined when it has some. */
async function emptyPivotTypes(connection: DuckDBConnection): Promise<Map<string, string> | undefined> {
  const rows = Number((await connection.runAndReadAll(`SELECT count(*) AS n FROM ${PIVOT_TABLE}`)).getRowObjectsJS()[0]?.n ?? 0);
  if (rows > 0) return undefined;
  const columns = await connection.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = '${PIVOT_TABLE}'`,
  );
  return new Map(columns.getRowObjectsJS().map((r) => [String(r.column_name), String(r.data_type)]));
}

/** Which object holds the customers' rows now: an older warehouse's `customers` table, the profile, or nothing yet. */
async function customerSource(connection: DuckDBConnection): Promise<{ kind: 'table' | 'profile' | 'none'; columns: Set<string> }> {
  const rows = (
    await connection.runAndReadAll(
      `SELECT t.table_name, t.table_type, c.column_name
       FROM information_schema.tables t JOIN information_schema.columns c USING (table_schema, table_name)
       WHERE t.table_schema = 'main' AND t.table_name IN ('${CUSTOMERS}', '${PROFILE_TABLE}')`,
    )
  ).getRowObjectsJS();
  const columnsOf = (name: string) => new Set(rows.filter((r) => r.table_name === name).map((r) => String(r.column_name)));
  if (rows.some((r) => r.table_name === CUSTOMERS && r.table_type === 'BASE TABLE')) return { kind: 'table', columns: columnsOf(CUSTOMERS) };
  if (rows.some((r) => r.table_name === PROFILE_TABLE)) return { kind: 'profile', columns: columnsOf(PROFILE_TABLE) };
  return { kind: 'none', columns: new Set() };
}

/**
 * The customers' rows as they are now, in catalog columns: a column the source lacks (the catalog
 * grew) is NULL, as a re-import of the old file would make it.
 */
function currentCustomerRows(catalog: Catalog, source: { kind: 'table' | 'profile' | 'none'; columns: Set<string> }): string {
  const columns = customerColumns(catalog)
    .map((c) => (source.columns.has(c.name) ? `CAST(${ident(c.name)} AS ${sqlType(c.type)})` : `CAST(NULL AS ${sqlType(c.type)})`) + ` AS ${ident(c.name)}`)
    .join(', ');
  if (source.kind === 'none') return `SELECT ${columns} WHERE false`;
  return `SELECT ${columns} FROM ${ident(source.kind === 'table' ? CUSTOMERS : PROFILE_TABLE)}`;
}

/**
 * Rebuilds the derived tables on the given connection from the data as it is; call it inside the
 * import's transaction so readers switch to the new data and the new profile at the same instant.
 * The profile is rebuilt from its own customer columns (or, in a warehouse from before the profile
 * held them, from the `customers` table, which then becomes the view).
 */
export async function rebuildDerivedTables(
  connection: DuckDBConnection,
  catalog: Catalog,
  windowMonths: number,
  /** The dataset that changed; `customers` keeps the usage pivot, anything else (or nothing) rebuilds it. */
  changed?: string,
): Promise<void> {
  if (changed !== CUSTOMERS) {
    await connection.run(`CREATE OR REPLACE TABLE usage_months AS
      SELECT month, CAST(row_number() OVER (ORDER BY month DESC) AS INTEGER) AS month_rank
      FROM (SELECT DISTINCT month FROM usage_monthly WHERE month IS NOT NULL)`);
    await connection.run(pivotSql(catalog, windowMonths));
  }
  const source = await customerSource(connection);
  await buildProfile(connection, catalog, windowMonths, currentCustomerRows(catalog, source), [], source.kind === 'table');
}

/** One row per customer with usage in the window; one column per (measure, month rank). */
function pivotSql(catalog: Catalog, windowMonths: number): string {
  const measures = usageMeasures(catalog);
  const cells = measures.flatMap((m) =>
    Array.from(
      { length: windowMonths },
      (_, i) => `max(CASE WHEN um.month_rank = ${i + 1} THEN u.${ident(m)} END) AS ${ident(profileUsageColumn(m, i + 1))}`,
    ),
  );
  return `CREATE OR REPLACE TABLE ${PIVOT_TABLE} AS
    SELECT u.customer_id${cells.map((c) => `, ${c}`).join('')}
    FROM usage_monthly u JOIN usage_months um ON um.month = u.month AND um.month_rank <= ${windowMonths}
    GROUP BY u.customer_id`;
}

/**
 * Builds the derived tables when they are missing, were built for another USAGE_WINDOW_MONTHS or
 * another catalog, or the warehouse is of the older layout (a `customers` table beside the profile).
 */
export async function ensureDerivedTables(warehouse: Warehouse, catalog: Catalog, windowMonths: number): Promise<void> {
  await warehouse.write(async (c) => {
    if (await derivedTablesFit(c, catalog, windowMonths)) return;
    await c.run('BEGIN TRANSACTION');
    try {
      await rebuildDerivedTables(c, catalog, windowMonths);
      await c.run('COMMIT');
    } catch (error) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * Whether the derived tables exist in this layout and were built for this window and catalog (the
 * setting may have changed): the pivot, the profile with every customer column and exactly the
 * window's usage columns, and `customers` as a view.
 */
async function derivedTablesFit(connection: DuckDBConnection, catalog: Catalog, windowMonths: number): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name IN ('${PROFILE_TABLE}', '${PIVOT_TABLE}')`,
  );
  const rows = reader.getRowObjectsJS().map((r) => `${String(r.table_name)}.${String(r.column_name)}`);
  const have = new Set(rows);
  const expected = pivotColumns(catalog, windowMonths);
  const profileColumns = rows.filter((r) => r.startsWith(`${PROFILE_TABLE}.u_`)).length;
  const view = await connection.runAndReadAll(
    `SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' AND table_name = '${CUSTOMERS}'`,
  );
  return (
    view.getRowObjectsJS()[0]?.table_type === 'VIEW' &&
    have.has(`${PIVOT_TABLE}.customer_id`) &&
    customerColumns(catalog).every((c) => have.has(`${PROFILE_TABLE}.${c.name}`)) &&
    expected.every((c) => have.has(`${PROFILE_TABLE}.${c}`)) &&
    profileColumns === expected.length
  );
}
