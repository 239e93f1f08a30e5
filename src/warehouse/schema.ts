import type { Catalog, Dataset } from '../catalog/catalog.js';
import { sqlType } from '../catalog/catalog.js';
import { ident, type Warehouse } from './duckdb.js';

/**
 * Tables of the DuckDB warehouse besides the catalog's datasets:
 *
 * - `_snapshots`: one row per dataset, its version (bumped by each import, in the same transaction
 *   as the swap) and row count.
 * - `usage_months`: the distinct `usage_monthly.month` values ranked newest first (rank 1), so "the
 *   last N months" is reproducible and costs nothing at query time.
 * - `usage_pivot`: per customer, for each numeric usage column and each of the last K months,
 *   `u_<column>_m<i>` (NULL when the customer has no row that month); rebuilt when usage changes.
 * - `customer_profile`: the customers (every catalog column) left-joined to `usage_pivot`.
 *   Conditions are compiled against this one table, so a window aggregate is a column expression,
 *   not a join. It is the only physical copy of the customers: the `customers` dataset is a view
 *   of the profile's customer columns (see derive.ts), made by ensureDerivedTables.
 * - `list_members`: special-list entries resolved to customer ids (kept by the list mirror).
 * - `contact_history`: who was contacted by which campaign and when (mirrored from Postgres).
 * - `list_entries_mirror`: every live list entry by number, resolved or not, so `list_members` can be
 *   re-resolved when `customers` is re-imported; `_mirror_state`: the mirrors' watermarks.
 * - `_list_versions`: per list, a number the list mirror bumps whenever it changes that list's
 *   members, so cached answers (the bitmap engine's) know when a list moved on.
 */
export const PROFILE_TABLE = 'customer_profile';

/** The customers dataset: a view of `customer_profile`, not a table of its own. */
export const CUSTOMERS = 'customers';

export function datasetDdl(dataset: Dataset, table = dataset.name): string {
  const columns = dataset.columns.map((c) => `${ident(c.name)} ${sqlType(c.type)}`).join(', ');
  return `CREATE TABLE IF NOT EXISTS ${ident(table)} (${columns})`;
}

/** The numeric usage columns that are pivoted onto the profile. */
export function usageMeasures(catalog: Catalog): string[] {
  const usage = catalog.dataset('usage_monthly');
  if (!usage) return [];
  return usage.columns
    .filter((c) => c.name !== 'customer_id' && ['integer', 'bigint', 'decimal'].includes(c.type))
    .map((c) => c.name);
}

/** `u_data_mb_m1` is the customer's data_mb in the most recent month. */
export function profileUsageColumn(measure: string, monthRank: number): string {
  return `u_${measure}_m${monthRank}`;
}

export async function ensureWarehouseSchema(warehouse: Warehouse, catalog: Catalog): Promise<void> {
  await warehouse.write(async (c) => {
    // `customers` is a view of the profile, made with it by ensureDerivedTables.
    for (const dataset of catalog.datasets) if (dataset.name !== CUSTOMERS) await c.run(datasetDdl(dataset));
    await c.run(`CREATE TABLE IF NOT EXISTS _snapshots (
      dataset VARCHAR PRIMARY KEY, version INTEGER NOT NULL, row_count BIGINT NOT NULL, imported_at TIMESTAMPTZ NOT NULL)`);
    await c.run(`CREATE TABLE IF NOT EXISTS usage_months (month DATE NOT NULL, month_rank INTEGER NOT NULL)`);
    await c.run(`CREATE TABLE IF NOT EXISTS list_members (
      list_name VARCHAR NOT NULL, msisdn VARCHAR NOT NULL, customer_id BIGINT NOT NULL, expires_at TIMESTAMPTZ)`);
    await c.run(`CREATE TABLE IF NOT EXISTS contact_history (
      id BIGINT NOT NULL, customer_id BIGINT NOT NULL, campaign_id VARCHAR NOT NULL,
      category VARCHAR, sent_at TIMESTAMPTZ NOT NULL)`);
    await c.run(`CREATE TABLE IF NOT EXISTS list_entries_mirror (
      list_name VARCHAR NOT NULL, msisdn VARCHAR NOT NULL, expires_at TIMESTAMPTZ)`);
    await c.run(`CREATE TABLE IF NOT EXISTS _mirror_state (name VARCHAR PRIMARY KEY, watermark_us BIGINT NOT NULL)`);
    await c.run(`CREATE TABLE IF NOT EXISTS _list_versions (list_name VARCHAR PRIMARY KEY, version BIGINT NOT NULL)`);
  });
}
