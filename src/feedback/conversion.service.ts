import type { Db } from '../db/kysely.js';
import type { ConversionFileReader } from './conversion.upload.js';
import { copyConversionsFile, insertConversions, type ConversionRow } from './conversion.repository.js';
import type { ConversionInput, ConversionReport } from './conversion.schemas.js';

const LISTED_DUPLICATES = 100;

/**
 * Orders from CRM/BOSS (转化). Stored as reported, idempotent by order id: an order sent twice is
 * counted as a duplicate, never an error and never twice. Attribution to campaigns is the reports'
 * business (src/reports), computed when they are read.
 */
export class ConversionService {
  constructor(
    private readonly deps: { db: Db; databaseUrl: string; files: ConversionFileReader },
  ) {}

  async record(orders: readonly ConversionInput[]): Promise<ConversionReport> {
    const rows: ConversionRow[] = orders.map((o) => ({
      orderId: o.orderId,
      msisdn: o.msisdn ?? null,
      customerId: o.customerId ?? null,
      productId: o.productId,
      orderedAt: o.orderedAt,
      revenue: o.revenue ?? null,
    }));
    const inserted = new Set(await insertConversions(this.deps.db, rows, 'api'));
    // An id inserted once is a duplicate at every further occurrence in the same batch.
    const duplicateOrderIds: string[] = [];
    const counted = new Set<string>();
    for (const row of rows) {
      if (inserted.has(row.orderId) && !counted.has(row.orderId)) counted.add(row.orderId);
      else duplicateOrderIds.push(row.orderId);
    }
    return {
      received: rows.length,
      inserted: inserted.size,
      duplicates: rows.length - inserted.size,
      duplicateOrderIds: duplicateOrderIds.slice(0, LISTED_DUPLICATES),
      source: 'api',
    };
  }

  /** A CSV of orders: checked whole first (any bad row refuses the file), then stored in one transaction. */
  async upload(filePath: string, filename: string): Promise<ConversionReport> {
    const source = `upload:${filename}`.slice(0, 200);
    const checked = await this.deps.files.check(filePath);
    try {
      const stored = await copyConversionsFile(this.deps.databaseUrl, checked.path, source);
      return {
        received: stored.received,
        inserted: stored.inserted,
        duplicates: stored.received - stored.inserted,
        duplicateOrderIds: stored.duplicateOrderIds,
        source,
      };
    } finally {
      await checked.remove();
    }
  }
}
