import { BIGINT, BOOLEAN, DuckDBDataChunk, VARCHAR, type DuckDBAppender, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import type { Db } from '../db/kysely.js';
import type { Warehouse } from '../warehouse/duckdb.js';
import { changeHorizon, FIELD_SEPARATOR, readEntryChangePage, RECORD_SEPARATOR, type ChangeHorizon, type EntryChangeKey } from './list.repository.js';

/** What one mirror pass did: rows read from Postgres, and rows whose mirrored state changed. */
export interface MirrorPass {
  read: number;
  applied: number;
  ms: number;
}

export interface MirrorOptions {
  /**
   * Read again this far before the watermark when Postgres hides some sessions' transaction starts
   * from us (no pg_read_all_stats), so the oldest-open-transaction bound may be too late.
   */
  overlapMs?: number;
  /** Rows fetched from Postgres per round trip. */
  pageSize?: number;
}

/** `MirrorOptions` with their defaults applied, in the units a pass works in. */
export interface MirrorSettings {
  overlapUs: number;
  pageSize: number;
}

export function mirrorSettings(options: MirrorOptions): MirrorSettings {
  return { overlapUs: (options.overlapMs ?? 5000) * 1000, pageSize: options.pageSize ?? 50_000 };
}

/**
 * One pass of a watermarked mirror. The horizon is taken before the first page is read (everything
 * older is committed and will be seen by the pages); then, in one DuckDB transaction, `apply` reads
 * and applies what changed since the stored watermark, and the watermark advances with it.
 */
export async function watermarkedPass(
  db: Db,
  warehouse: Warehouse,
  stateKey: string,
  overlapUs: number,
  apply: (c: DuckDBConnection, watermark: number | undefined) => Promise<Omit<MirrorPass, 'ms'>>,
  memo?: WatermarkMemo,
): Promise<MirrorPass> {
  const started = performance.now();
  // Nothing changed since the watermark this process last wrote: the pass would read nothing, so
  // skip its DuckDB transaction (a commit: 50–130 ms at 10M customers, paid by every preview that
  // names a list). The watermark then stays where it is, which only means the next pass reads from there.
  if (memo?.known && !(await memo.probe(memo.watermark))) return { read: 0, applied: 0, ms: Math.round(performance.now() - started) };
  const horizon = await changeHorizon(db);
  const pass = await warehouse.transaction(async (c) => {
    const watermark = await readWatermark(c, stateKey);
    const { read, applied } = await apply(c, watermark);
    const next = nextWatermark(watermark, horizon, overlapUs);
    await writeWatermark(c, stateKey, next);
    return { read, applied, next };
  });
  if (memo) Object.assign(memo, { known: true, watermark: pass.next });
  return { read: pass.read, applied: pass.applied, ms: Math.round(performance.now() - started) };
}

/** The watermark a mirror last wrote (once `known`) and how to ask Postgres whether anything changed since one. */
export interface WatermarkMemo {
  known: boolean;
  watermark: number | undefined;
  probe(sinceUs: number | undefined): Promise<boolean>;
}

const STATE_KEY = 'list_entries';

/**
 * Keeps DuckDB's `list_entries_mirror` (every live entry by number) and `list_members` (the same
 * resolved to customer ids through `customers`) in step with Postgres' `list_entries`, reading only
 * what changed since the last pass. Applying is idempotent: a change read twice applies once, and
 * a pass over rows that match the mirror already applies nothing.
 */
export class ListMirror {
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
    probe: async (sinceUs) => (await readEntryChangePage(this.db, { sinceUs, limit: 1 })).rows > 0,
  };

  sync(): Promise<MirrorPass> {
    const { overlapUs, pageSize } = this.settings;
    return watermarkedPass(this.db, this.warehouse, STATE_KEY, overlapUs, async (c, watermark) => {
      await c.run(`CREATE OR REPLACE TEMP TABLE _list_changes (
        list_name VARCHAR NOT NULL, msisdn VARCHAR NOT NULL, expires_us BIGINT, deleted BOOLEAN NOT NULL, updated_us BIGINT NOT NULL)`);
      let read = 0;
      const appender = await c.createAppender('_list_changes', 'main', 'temp');
      try {
        const fetch = (after?: EntryChangeKey) => readEntryChangePage(this.db, { sinceUs: watermark, after, limit: pageSize });
        let page = await fetch();
        while (page.rows > 0) {
          // The next page is fetched while this one is appended: Postgres and DuckDB work at once.
          const next = page.rows === pageSize ? fetch(lastKey(page.text)) : undefined;
          // Awaited below; until then a failure must not surface as an unhandled rejection.
          next?.catch(() => undefined);
          appendChangePage(appender, page.text);
          read += page.rows;
          if (!next) break;
          page = await next;
        }
      } finally {
        appender.closeSync();
      }
      const applied = read === 0 ? 0 : await applyListChanges(c);
      await c.run('DROP TABLE temp.main._list_changes');
      return { read, applied };
    }, this.memo);
  }

  /**
   * Resolves every mirrored entry to customer ids again. Registered with the import service, so it
   * runs inside the transaction that swaps `customers`: readers never see members of the old one.
   */
  async resolveAllMembers(c: DuckDBConnection): Promise<void> {
    await c.run('DELETE FROM list_members');
    // No entries: skip the join, which hashes every customer even then (see resolveConversions).
    const entries = await c.runAndReadAll('SELECT count(*) AS n FROM list_entries_mirror');
    if (Number(entries.getRowObjectsJS()[0]?.n ?? 0) === 0) return;
    await c.run(`INSERT INTO list_members (list_name, msisdn, customer_id, expires_at)
      SELECT m.list_name, m.msisdn, c.customer_id, m.expires_at
      FROM list_entries_mirror m JOIN customers c ON c.msisdn = m.msisdn`);
  }
}

const CHANGE_TYPES: DuckDBType[] = [VARCHAR, VARCHAR, BIGINT, BOOLEAN, BIGINT];
/** DuckDB's vector size: one data chunk per this many rows. */
const CHUNK_ROWS = 2048;

/** The keyset position of a page's last record. */
function lastKey(text: string): EntryChangeKey {
  const [listName, msisdn, , , updatedUs] = text.slice(text.lastIndexOf(RECORD_SEPARATOR) + 1).split(FIELD_SEPARATOR) as [string, string, string, string, string];
  return { updatedUs: Number(updatedUs), listName, msisdn };
}

/** Splits one page of change records into columns and appends them a data chunk at a time (a value at a time costs several times more through the Node binding). */
function appendChangePage(appender: DuckDBAppender, text: string): void {
  const records = text.split(RECORD_SEPARATOR);
  for (let start = 0; start < records.length; start += CHUNK_ROWS) {
    const slice = records.slice(start, start + CHUNK_ROWS);
    const lists: string[] = [];
    const numbers: string[] = [];
    const expires: Array<bigint | null> = [];
    const deleted: boolean[] = [];
    const updated: bigint[] = [];
    for (const record of slice) {
      const [list, msisdn, expiresUs, isDeleted, updatedUs] = record.split(FIELD_SEPARATOR) as [string, string, string, string, string];
      lists.push(list);
      numbers.push(msisdn);
      expires.push(expiresUs === '' ? null : BigInt(expiresUs));
      deleted.push(isDeleted === 't');
      updated.push(BigInt(updatedUs));
    }
    const chunk = DuckDBDataChunk.create(CHANGE_TYPES, slice.length);
    chunk.setColumns([lists, numbers, expires, deleted, updated]);
    appender.appendDataChunk(chunk);
  }
}

/**
 * Applies the staged changes set-based. The latest change per entry is compared with the mirror;
 * only entries whose state (present, expiry) differs are touched: removals deleted, new expiries
 * updated in place (the customer ids stay), new entries inserted and resolved through `customers`
 * (the one step that reads every customer). Returns how many entries changed.
 */
async function applyListChanges(c: DuckDBConnection): Promise<number> {
  await c.run(`CREATE OR REPLACE TEMP TABLE _list_changed AS
    SELECT s.list_name, s.msisdn, make_timestamptz(s.expires_us) AS expires_at, s.deleted, m.msisdn IS NOT NULL AS mirrored
    FROM (
      SELECT * FROM temp.main._list_changes
      QUALIFY row_number() OVER (PARTITION BY list_name, msisdn ORDER BY updated_us DESC) = 1
    ) s
    LEFT JOIN list_entries_mirror m ON m.list_name = s.list_name AND m.msisdn = s.msisdn
    WHERE CASE WHEN s.deleted THEN m.msisdn IS NOT NULL
               ELSE m.msisdn IS NULL OR m.expires_at IS DISTINCT FROM make_timestamptz(s.expires_us) END`);
  const counted = await c.runAndReadAll(`SELECT
      count(*) FILTER (WHERE deleted)::BIGINT AS removed,
      count(*) FILTER (WHERE NOT deleted AND mirrored)::BIGINT AS updated,
      count(*) FILTER (WHERE NOT deleted AND NOT mirrored)::BIGINT AS added
    FROM temp.main._list_changed`);
  const row = counted.getRowObjectsJS()[0] ?? {};
  const [removed, updated, added] = [Number(row.removed ?? 0), Number(row.updated ?? 0), Number(row.added ?? 0)];
  const same = (t: string) => `${t}.list_name = x.list_name AND ${t}.msisdn = x.msisdn`;
  if (removed > 0) {
    await c.run(`DELETE FROM list_entries_mirror m USING temp.main._list_changed x WHERE x.deleted AND ${same('m')}`);
    await c.run(`DELETE FROM list_members m USING temp.main._list_changed x WHERE x.deleted AND ${same('m')}`);
  }
  if (updated > 0) {
    await c.run(`UPDATE list_entries_mirror m SET expires_at = x.expires_at FROM temp.main._list_changed x
      WHERE NOT x.deleted AND x.mirrored AND ${same('m')}`);
    await c.run(`UPDATE list_members m SET expires_at = x.expires_at FROM temp.main._list_changed x
      WHERE NOT x.deleted AND x.mirrored AND ${same('m')}`);
  }
  if (added > 0) {
    await c.run(`INSERT INTO list_entries_mirror (list_name, msisdn, expires_at)
      SELECT list_name, msisdn, expires_at FROM temp.main._list_changed WHERE NOT deleted AND NOT mirrored`);
    await c.run(`INSERT INTO list_members (list_name, msisdn, customer_id, expires_at)
      SELECT x.list_name, x.msisdn, c.customer_id, x.expires_at
      FROM temp.main._list_changed x JOIN customers c ON c.msisdn = x.msisdn
      WHERE NOT x.deleted AND NOT x.mirrored`);
  }
  if (removed + updated + added > 0) {
    await c.run(`INSERT INTO _list_versions (list_name, version)
      SELECT DISTINCT list_name, 1 FROM temp.main._list_changed
      ON CONFLICT (list_name) DO UPDATE SET version = _list_versions.version + 1`);
  }
  await c.run('DROP TABLE temp.main._list_changed');
  return removed + updated + added;
}

/**
 * Where the next pass starts reading: the horizon (everything before it is committed and was read),
 * less the overlap when the horizon is uncertain; never behind the current watermark.
 */
export function nextWatermark(current: number | undefined, horizon: ChangeHorizon, overlapUs: number): number {
  const candidate = horizon.uncertain ? horizon.us - overlapUs : horizon.us;
  return current === undefined ? candidate : Math.max(current, candidate);
}

async function readWatermark(c: DuckDBConnection, name: string): Promise<number | undefined> {
  const result = await c.runAndReadAll('SELECT watermark_us FROM _mirror_state WHERE name = $1', [name]);
  const value = result.getRowObjectsJS()[0]?.watermark_us;
  return value === undefined || value === null ? undefined : Number(value);
}

async function writeWatermark(c: DuckDBConnection, name: string, watermarkUs: number): Promise<void> {
  await c.run(
    `INSERT INTO _mirror_state (name, watermark_us) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET watermark_us = excluded.watermark_us`,
    [name, BigInt(watermarkUs)],
  );
}
