import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import { existingTargetingRunIds } from '../exclusions/targeting.repository.js';
import { existingSegmentIds, failSegmentsStillBuilding } from '../segments/segment.repository.js';
import type { Warehouse } from '../warehouse/duckdb.js';
import { closeInterruptedImports } from '../warehouse/import.repository.js';
import { dropObjectTables, listObjectTables, type ObjectTable } from '../warehouse/tables.js';

export interface RecoveryReport {
  /** Segments found `building`, now `failed`. */
  segmentsFailed: string[];
  /** Imports found `running`, now `interrupted`. */
  importsInterrupted: number;
  /** Warehouse tables whose Postgres row is gone or was never committed, now dropped. */
  tablesDropped: string[];
}

export const INTERRUPTED_BUILD = 'The server stopped while the segment was being built; refresh it to build it again';
export const INTERRUPTED_IMPORT = 'The server stopped before this import finished; import the file again';

/**
 * Puts right what a process that died while owning the warehouse left behind. Call it only after
 * opening DuckDB: the file admits one owner, so whatever is still `building` or `running` at that
 * moment has no process working on it any more. (The core container must never call it: a CLI
 * command runs beside the API, whose builds are real.)
 */
export async function recoverAfterRestart(deps: { db: Db; warehouse: Warehouse; logger: Logger }): Promise<RecoveryReport> {
  const { db, warehouse, logger } = deps;
  const segmentsFailed = await failSegmentsStillBuilding(db, INTERRUPTED_BUILD);
  const importsInterrupted = await closeInterruptedImports(db, { path: 'file', message: INTERRUPTED_IMPORT });
  const orphans = await orphanTables(db, await listObjectTables(warehouse));
  await dropObjectTables(warehouse, orphans);
  const report = { segmentsFailed, importsInterrupted, tablesDropped: orphans.map((t) => t.name) };
  if (segmentsFailed.length > 0 || importsInterrupted > 0 || orphans.length > 0) {
    logger.warn(
      { segmentsFailed: segmentsFailed.length, importsInterrupted, tablesDropped: orphans.length },
      'recovered work left unfinished by the previous run',
    );
  }
  return report;
}

/**
 * Tables whose owning row does not exist: a segment deleted between its row and its tables, a
 * targeting run whose row was never committed. Nothing else reads them, so they only take space.
 */
async function orphanTables(db: Db, tables: ObjectTable[]): Promise<ObjectTable[]> {
  const idsOf = (owner: ObjectTable['owner']) => [...new Set(tables.filter((t) => t.owner === owner).map((t) => t.id))];
  const alive = new Set([
    ...(await existingSegmentIds(db, idsOf('segment'))).map((id) => `segment:${id}`),
    ...(await existingTargetingRunIds(db, idsOf('targeting_run'))).map((id) => `targeting_run:${id}`),
  ]);
  return tables.filter((t) => !alive.has(`${t.owner}:${t.id}`));
}
