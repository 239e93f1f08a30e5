import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Actor } from '../security/roles.js';
import type { Warehouse } from './duckdb.js';
import type { ImportRecord } from './import.repository.js';
import type { ImportService } from './import.service.js';

/** The small synthetic warehouse checked in for the demo and the tests. */
export const SAMPLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sample');

/** Reference data first, so a reader of the import log sees the catalogue before the facts. */
export const SAMPLE_DATASETS = ['products', 'grids', 'customers', 'usage_monthly', 'subscriptions', 'tags'] as const;

export async function loadSampleWarehouse(imports: ImportService, actor: Actor, dir = SAMPLE_DIR): Promise<ImportRecord[]> {
  const records: ImportRecord[] = [];
  for (const dataset of SAMPLE_DATASETS) {
    const record = await imports.importFile(
      { dataset, path: path.join(dir, `${dataset}.csv`), format: 'csv', mode: 'replace' },
      actor,
      { trustedPath: true, sourceLabel: `sample:${dataset}.csv` },
    );
    records.push(record);
  }
  return records;
}

/** True when nothing was ever imported into this warehouse file. */
export async function warehouseIsEmpty(warehouse: Warehouse): Promise<boolean> {
  const rows = await warehouse.query<{ n: number }>('SELECT count(*) AS n FROM _snapshots');
  return (rows[0]?.n ?? 0) === 0;
}
