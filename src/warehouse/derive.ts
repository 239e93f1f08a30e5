import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog } from '../catalog/catalog.js';
import { ident, type Warehouse } from './duckdb.js';
import { PROFILE_TABLE, profileUsageColumn, usageMeasures } from './schema.js';

/** Datasets whose change requires the customer profile to be rebuilt. */
export const PROFILE_SOURCES = new Set(['customers', 'usage_monthly']);

const PIVOT_TABLE = 'usage_pivot';

function pivotColumns(catalog: Catalog, windowMonths: number): string[] {
  return usageMeasures(catalog).flatMap((m) => Array.from({ length: windowMonths }, (_, i) => profileUsageColumn(m, i + 1)));
}

/**
 * Rebuilds the derived tables on the given connection; call it inside the import's transaction so
 * readers switch to the new data and the new profile at the same instant. A `customers` import
 * only re-joins the profile: the usage pivot (ranks and month columns) depends on usage alone.
 */
export async function rebuildDerivedTables(
  connection: DuckDBConnection,
  catalog: Catalog,
  windowMonths: number,
  /** The dataset that changed; anything but `customers` (or nothing) rebuilds the pivot too. */
  changed?: string,
): Promise<void> {
  if (changed !== 'customers') {
    await connection.run(`CREATE OR REPLACE TABLE usage_months AS
      SELECT month, CAST(row_number() OVER (ORDER BY month DESC) AS INTEGER) AS month_rank
      FROM (SELECT DISTINCT month FROM usage_monthly WHERE month IS NOT NULL)`);
    await connection.run(pivotSql(catalog, windowMonths));
  }
  const columns = pivotColumns(catalog, windowMonths).map((c) => `p.${ident(c)}`);
  // No ORDER BY: customers is stored in file order, and sorting 10M wide rows costs more than it
  // saves; every query reaches the profile by hash join or full scan anyway.
  await connection.run(`CREATE OR REPLACE TABLE ${PROFILE_TABLE} AS
    SELECT c.*${columns.map((c) => `, ${c}`).join('')}
    FROM customers c LEFT JOIN ${PIVOT_TABLE} p ON p.customer_id = c.customer_id`);
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

/** Builds the derived tables when they are missing or were built for another USAGE_WINDOW_MONTHS. */
export async function ensureDerivedTables(warehouse: Warehouse, catalog: Catalog, windowMonths: number): Promise<void> {
  await warehouse.write(async (c) => {
    if (!(await derivedTablesFit(c, catalog, windowMonths))) await rebuildDerivedTables(c, catalog, windowMonths);
  });
}

/** Whether the derived tables exist and were built for this window (the setting may have changed). */
async function derivedTablesFit(connection: DuckDBConnection, catalog: Catalog, windowMonths: number): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, column_name FROM information_schema.columns WHERE table_name IN ('${PROFILE_TABLE}', '${PIVOT_TABLE}')`,
  );
  const rows = reader.getRowObjectsJS().map((r) => `${String(r.table_name)}.${String(r.column_name)}`);
  const have = new Set(rows);
  const expected = pivotColumns(catalog, windowMonths);
  const profileColumns = rows.filter((r) => r.startsWith(`${PROFILE_TABLE}.u_`)).length;
  return (
    have.has(`${PIVOT_TABLE}.customer_id`) &&
    expected.every((c) => have.has(`${PROFILE_TABLE}.${c}`)) &&
    profileColumns === expected.length
  );
}
