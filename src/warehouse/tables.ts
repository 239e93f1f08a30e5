import { ident } from './duckdb.js';

/**
 * Names of the DuckDB tables Quanke creates per object. Ids are UUIDs; the dashes are dropped so
 * the name is a plain identifier.
 */
function objectTable(prefix: string, id: string): string {
  const compact = id.replaceAll('-', '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(compact)) throw new Error(`not a uuid: ${id}`);
  return ident(`${prefix}_${compact}`);
}

/** Members of a materialised segment: one `customer_id BIGINT` column. */
export function segmentMembersTable(segmentId: string): string {
  return objectTable('seg', segmentId);
}

/** A targeting run's result: `customer_id, removed_by_step (0 = kept), is_control`. */
export function targetingTable(runId: string): string {
  return objectTable('tgt', runId);
}

/** The distinct phone numbers an upload segment was built from (`msisdn VARCHAR`), kept for refresh. */
export function segmentNumbersTable(segmentId: string): string {
  return objectTable('segn', segmentId);
}
