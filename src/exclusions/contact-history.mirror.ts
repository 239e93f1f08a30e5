import { DuckDBTimestampTZValue } from '@duckdb/node-api';
import type { Db } from '../db/kysely.js';
import { mirrorSettings, watermarkedPass, type MirrorOptions, type MirrorPass, type MirrorSettings, type WatermarkMemo } from '../lists/list.mirror.js';
import type { Warehouse } from '../warehouse/duckdb.js';
import { readContactChanges, type ContactChangeKey } from './contact-history.repository.js';

const STATE_KEY = 'contact_history';

/**
 * Appends Postgres' `contact_history` to DuckDB's. The table is append-only, but its ids commit
 * out of order (concurrent send batches), so the watermark is on `recorded_at`, bounded by the
 * oldest open transaction like the list mirror's; rows read twice are skipped by id.
 * (The send pipeline writes a few rows per message; per-row objects from pg are fast enough here.)
 */
export class ContactHistoryMirror {
  private readonly settings: MirrorSettings;

  constructor(
    private readonly db: Db,
    private readonly warehouse: Warehouse,
    options: MirrorOptions = {},
  ) {
    this.settings = mirrorSettings(options);
  }

  private readonly memo: WatermarkMemo = {
    known: false,
    watermark: undefined,
    probe: async (sinceUs) => (await readContactChanges(this.db, { sinceUs, limit: 1 })).length > 0,
  };

  sync(): Promise<MirrorPass> {
    const { overlapUs, pageSize } = this.settings;
    return watermarkedPass(this.db, this.warehouse, STATE_KEY, overlapUs, async (c, watermark) => {
      await c.run(`CREATE OR REPLACE TEMP TABLE _contact_changes (
        id BIGINT NOT NULL, customer_id BIGINT NOT NULL, campaign_id VARCHAR NOT NULL, category VARCHAR, sent_at TIMESTAMPTZ NOT NULL)`);
      let read = 0;
      let minId = Number.POSITIVE_INFINITY;
      const appender = await c.createAppender('_contact_changes', 'main', 'temp');
      try {
        let after: ContactChangeKey | undefined;
        for (;;) {
          const page = await readContactChanges(this.db, { sinceUs: watermark, after, limit: pageSize });
          for (const row of page) {
            const id = Number(row.id);
            if (id < minId) minId = id;
            appender.appendBigInt(BigInt(id));
            appender.appendBigInt(BigInt(row.customer_id));
            appender.appendVarchar(row.campaign_id);
            if (row.category === null) appender.appendNull();
            else appender.appendVarchar(row.category);
            appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(row.sent_us)));
            appender.endRow();
          }
          read += page.length;
          const last = page.at(-1);
          if (!last || page.length < pageSize) break;
          after = { recordedUs: Number(last.recorded_us), id: Number(last.id) };
        }
      } finally {
        appender.closeSync();
      }
      let applied = 0;
      if (read > 0) {
        // The id bound lets DuckDB skip, by zone maps, the history written before these rows.
        const inserted = await c.runAndReadAll(
          `INSERT INTO contact_history (id, customer_id, campaign_id, category, sent_at)
           SELECT s.id, s.customer_id, s.campaign_id, s.category, s.sent_at FROM temp.main._contact_changes s
           WHERE s.id NOT IN (SELECT id FROM contact_history WHERE id >= $1)`,
          [BigInt(minId)],
        );
        applied = Number(inserted.getRowObjectsJS()[0]?.Count ?? 0);
      }
      await c.run('DROP TABLE temp.main._contact_changes');
      return { read, applied };
    }, this.memo);
  }
}
