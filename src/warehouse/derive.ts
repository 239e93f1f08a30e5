import type { DuckDBConnection } from '@duckdb/node-api';
import type { Catalog } from '../catalog/catalog.js';
import { PROFILE_TABLE, profileSelectSql } from './schema.js';

/** Datasets whose change requires the customer profile (and usage month ranks) to be rebuilt. */
export const PROFILE_SOURCES = new Set(['customers', 'usage_monthly']);

/**
 * Rebuilds the derived tables (usage month ranks, then the customer profile) on the given
 * connection. Call it inside the import's transaction so readers switch to the new data and the
 * new profile at the same instant.
 */
export async function rebuildDerivedTables(connection: DuckDBConnection, catalog: Catalog, windowMonths: number): Promise<void> {
  await connection.run(`CREATE OR REPLACE TABLE usage_months AS
    SELECT month, CAST(row_number() OVER (ORDER BY month DESC) AS INTEGER) AS month_rank
    FROM (SELECT DISTINCT month FROM usage_monthly WHERE month IS NOT NULL)`);
  await connection.run(profileSelectSql(catalog, windowMonths, `CREATE OR REPLACE TABLE ${PROFILE_TABLE} AS`));
}
