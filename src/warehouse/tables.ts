import { ident, type Warehouse } from './duckdb.js';

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

/** The Postgres row a per-object table belongs to: it is an orphan once that row is gone. */
export interface ObjectTable {
  name: string;
  owner: 'segment' | 'targeting_run';
  id: string;
}

const OWNERS: Record<string, ObjectTable['owner']> = { seg: 'segment', segn: 'segment', tgt: 'targeting_run' };
const OBJECT_TABLE = /^(seg|segn|tgt)_([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/;

/** What a table name made by the functions above belongs to; undefined for any other table. */
export function objectTableOf(name: string): ObjectTable | undefined {
  const match = OBJECT_TABLE.exec(name);
  if (!match) return undefined;
  const [, prefix, ...parts] = match;
  return { name, owner: OWNERS[prefix!]!, id: parts.join('-') };
}

/** Every per-object table in the warehouse. */
export async function listObjectTables(warehouse: Warehouse): Promise<ObjectTable[]> {
  const rows = await warehouse.query<{ name: string }>(`SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1`);
  return rows.map((r) => objectTableOf(r.name)).filter((t): t is ObjectTable => t !== undefined);
}

export async function dropObjectTables(warehouse: Warehouse, tables: readonly ObjectTable[]): Promise<void> {
  if (tables.length === 0) return;
  await warehouse.write(async (c) => {
    for (const table of tables) await c.run(`DROP TABLE IF EXISTS ${ident(table.name)}`);
  });
}
