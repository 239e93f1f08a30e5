import { DuckDBTimestampTZValue, type DuckDBConnection } from '@duckdb/node-api';
import type { Db } from '../db/kysely.js';
import type { Warehouse } from '../warehouse/duckdb.js';
import { changeHorizonUs, readEntryChanges, type EntryChangeKey } from './list.repository.js';

/** What one mirror pass did: rows read from Postgres, and rows whose mirrored state changed. */
export interface MirrorPass {
  read: number;
  applied: number;
  ms: number;
}

export interface MirrorOptions {
  /**
   * Changes stamped this long before the watermark are read again. The watermark already stops at
   * the oldest open transaction; this covers sessions whose start Postgres does not show us.
   */
  overlapMs?: number;
  /** Rows fetched from Postgres per round trip. */
  pageSize?: number;
}

const STATE_KEY = 'list_entries';

/**
 * Keeps DuckDB's `list_entries_mirror` (every live entry by number) and `list_members` (the same
 * resolved to customer ids through `customers`) in step with Postgres' `list_entries`, reading only
 * what changed since the last pass. Applying is idempotent: a change read twice applies once, and
 * a pass over rows that match the mirror already applies nothing.
 */
export class ListMirror {
  private readonly overlapUs: number;
  private readonly pageSize: number;

  constructor(
    private readonly db: Db,
    private readonly warehouse: Warehouse,
    options: MirrorOptions = {},
  ) {
    this.overlapUs = (options.overlapMs ?? 5000) * 1000;
    this.pageSize = options.pageSize ?? 50_000;
  }

  async sync(): Promise<MirrorPass> {
    const started = performance.now();
    // Read before the first page: everything older is committed and will be seen by the pages.
    const horizonUs = await changeHorizonUs(this.db);
    return this.warehouse.transaction(async (c) => {
      const watermark = await readWatermark(c, STATE_KEY);
      const sinceUs = watermark === undefined ? undefined : watermark - this.overlapUs;
      await c.run(`CREATE OR REPLACE TEMP TABLE _list_changes (
        list_name VARCHAR NOT NULL, msisdn VARCHAR NOT NULL, expires_at TIMESTAMPTZ, deleted BOOLEAN NOT NULL, updated_us BIGINT NOT NULL)`);
      let read = 0;
      const appender = await c.createAppender('_list_changes', 'main', 'temp');
      try {
        let after: EntryChangeKey | undefined;
        for (;;) {
          const page = await readEntryChanges(this.db, { sinceUs, after, limit: this.pageSize });
          for (const row of page) {
            appender.appendVarchar(row.list_name);
            appender.appendVarchar(row.msisdn);
            if (row.expires_us === null) appender.appendNull();
            else appender.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(row.expires_us)));
            appender.appendBoolean(row.deleted);
            appender.appendBigInt(BigInt(row.updated_us));
            appender.endRow();
          }
          read += page.length;
          const last = page.at(-1);
          if (!last || page.length < this.pageSize) break;
          after = { updatedUs: Number(last.updated_us), listName: last.list_name, msisdn: last.msisdn };
        }
      } finally {
        appender.closeSync();
      }
      const applied = read === 0 ? 0 : await applyListChanges(c);
      await c.run('DROP TABLE temp.main._list_changes');
      await writeWatermark(c, STATE_KEY, Math.max(horizonUs, watermark ?? horizonUs));
      return { read, applied, ms: Math.round(performance.now() - started) };
    });
  }

  /**
   * Resolves every mirrored entry to customer ids again. Registered with the import service, so it
   * runs inside the transaction that swaps `customers`: readers never see members of the old one.
   */
  async resolveAllMembers(c: DuckDBConnection): Promise<void> {
    await c.run('DELETE FROM list_members');
    await c.run(`INSERT INTO list_members (list_name, msisdn, customer_id, expires_at)
      SELECT m.list_name, m.msisdn, c.customer_id, m.expires_at
      FROM list_entries_mirror m JOIN customers c ON c.msisdn = m.msisdn`);
  }
}

/**
 * Applies the staged changes set-based: the latest change per entry is compared with the mirror,
 * and only entries whose state (present, expiry) differs are deleted and re-inserted, in the
 * mirror and in the resolved members. Returns how many entries changed.
 */
async function applyListChanges(c: DuckDBConnection): Promise<number> {
  await c.run(`CREATE OR REPLACE TEMP TABLE _list_changed AS
    SELECT s.list_name, s.msisdn, s.expires_at, s.deleted
    FROM (
      SELECT * FROM temp.main._list_changes
      QUALIFY row_number() OVER (PARTITION BY list_name, msisdn ORDER BY updated_us DESC) = 1
    ) s
    LEFT JOIN list_entries_mirror m ON m.list_name = s.list_name AND m.msisdn = s.msisdn
    WHERE CASE WHEN s.deleted THEN m.msisdn IS NOT NULL
               ELSE m.msisdn IS NULL OR m.expires_at IS DISTINCT FROM s.expires_at END`);
  const counted = await c.runAndReadAll('SELECT count(*)::BIGINT AS n FROM temp.main._list_changed');
  const changed = Number(counted.getRowObjectsJS()[0]?.n ?? 0);
  if (changed > 0) {
    await c.run(`DELETE FROM list_entries_mirror m USING temp.main._list_changed x
      WHERE m.list_name = x.list_name AND m.msisdn = x.msisdn`);
    await c.run(`INSERT INTO list_entries_mirror (list_name, msisdn, expires_at)
      SELECT list_name, msisdn, expires_at FROM temp.main._list_changed WHERE NOT deleted`);
    await c.run(`DELETE FROM list_members m USING temp.main._list_changed x
      WHERE m.list_name = x.list_name AND m.msisdn = x.msisdn`);
    await c.run(`INSERT INTO list_members (list_name, msisdn, customer_id, expires_at)
      SELECT x.list_name, x.msisdn, c.customer_id, x.expires_at
      FROM temp.main._list_changed x JOIN customers c ON c.msisdn = x.msisdn
      WHERE NOT x.deleted`);
  }
  await c.run('DROP TABLE temp.main._list_changed');
  return changed;
}

export async function readWatermark(c: DuckDBConnection, name: string): Promise<number | undefined> {
  const result = await c.runAndReadAll('SELECT watermark_us FROM _mirror_state WHERE name = $1', [name]);
  const value = result.getRowObjectsJS()[0]?.watermark_us;
  return value === undefined || value === null ? undefined : Number(value);
}

export async function writeWatermark(c: DuckDBConnection, name: string, watermarkUs: number): Promise<void> {
  await c.run(
    `INSERT INTO _mirror_state (name, watermark_us) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET watermark_us = excluded.watermark_us`,
    [name, BigInt(watermarkUs)],
  );
}
