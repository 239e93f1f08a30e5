import type { DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import { kindOf, type Condition } from '../../conditions/condition.schemas.js';
import { SqlParams } from '../../conditions/params.js';
import { ident, toPlainRows, type Row, type Warehouse } from '../../warehouse/duckdb.js';
import { PROFILE_TABLE } from '../../warehouse/schema.js';
import { segmentMembersTable } from '../../warehouse/tables.js';
import { LruBytes } from './bitmap.cache.js';
import type { Leaf } from './bitmap.algebra.js';
import { bitmapBytes, bitmapFromWords, RoaringBitmap32 } from './roaring.js';

const PROFILE = ident(PROFILE_TABLE);

/**
 * What every cached answer was computed on, read in the transaction that uses it. Row numbers are
 * the profile's `rowid`s: `customer_profile` is rebuilt whole (CREATE OR REPLACE, never updated in
 * place) by every customers or usage import, so within one build they are fixed and, as checked
 * by `dense`, 0…rows−1.
 */
export interface Snapshot {
  /** The profile build: its table oid and the customers and usage versions it was derived from. */
  profile: string;
  rows: number;
  datasets: ReadonlyMap<string, number>;
  lists: ReadonlyMap<string, number>;
  /** Member table name (unquoted) → table oid; a refresh swaps in a new table, a new oid. */
  segmentTables: ReadonlyMap<string, number>;
}

/** A leaf's bitmap and, for a list leaf, the instant its next entry expires (then it is stale). */
interface CachedBitmap {
  bitmap: RoaringBitmap32;
  bytes: number;
  validUntil: number;
}

/** Per value of a breakdown column, its customers; undefined when the column has too many values. */
export interface ValueBitmaps {
  bytes: number;
  values: Array<{ value: string | null; bitmap: RoaringBitmap32 }> | undefined;
}

/** A breakdown column with more distinct values than this is answered by SQL, not bitmaps. */
export const MAX_BITMAP_VALUES = 256;
/** Aggregates per scan: wide enough for a realistic condition, narrow enough to plan quickly. */
const LEAVES_PER_SCAN = 24;

export interface BitmapMemory {
  cachedBytes: number;
  entries: number;
  hits: number;
  misses: number;
  /** Everything CRoaring holds in this process, cached or not. */
  roaringBytes: number;
}

/**
 * Roaring bitmaps of customers (row numbers of `customer_profile`) for condition leaves, lists,
 * segments and breakdown values, loaded lazily from DuckDB and kept in one byte-bounded LRU.
 * Keys carry the snapshot versions of everything the bitmap was computed from; `session` reads
 * those versions and computes what is missing in ONE read transaction, so an answer never mixes
 * snapshots.
 */
export class BitmapIndex {
  private readonly cache: LruBytes<CachedBitmap | ValueBitmaps>;
  private readonly density = new Map<string, boolean>();

  constructor(
    private readonly warehouse: Warehouse,
    budgetBytes: number,
  ) {
    this.cache = new LruBytes(budgetBytes);
  }

  session<T>(work: (session: SnapshotSession) => Promise<T>): Promise<T> {
    return this.warehouse.read(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const snapshot = await readSnapshot(c);
        if (!this.density.has(snapshot.profile)) this.density.set(snapshot.profile, await isDense(c, snapshot.rows));
        return await work(new SnapshotSession(c, snapshot, this.cache, this.density.get(snapshot.profile)!));
      } finally {
        await c.run('ROLLBACK').catch(() => undefined);
      }
    });
  }

  /** Frees a segment's bitmaps now rather than when the LRU reaches them (it was dropped). */
  forgetSegment(segmentId: string): void {
    const marker = `|s:${segmentMembersTable(segmentId).slice(1, -1)}:`;
    this.cache.evict((key) => key.includes(marker));
  }

  memory(): BitmapMemory {
    return {
      cachedBytes: this.cache.bytes,
      entries: this.cache.size,
      hits: this.cache.hits,
      misses: this.cache.misses,
      roaringBytes: RoaringBitmap32.getRoaringUsedMemory(),
    };
  }
}

/** One read transaction: the snapshot it sees and the bitmaps of that snapshot. */
export class SnapshotSession {
  constructor(
    private readonly c: DuckDBConnection,
    readonly snapshot: Snapshot,
    private readonly cache: LruBytes<CachedBitmap | ValueBitmaps>,
    private readonly dense: boolean,
  ) {}

  /** Every row number of the profile. */
  async universe(): Promise<RoaringBitmap32> {
    const key = `universe|${this.snapshot.profile}`;
    const hit = this.cache.get(key) as CachedBitmap | undefined;
    if (hit) return hit.bitmap;
    const bitmap = this.dense
      ? RoaringBitmap32.fromRange(0, this.snapshot.rows)
      : (await this.scan([{ key, sql: 'TRUE' }])).get(key)!;
    bitmap.runOptimize();
    this.cache.set(key, { bitmap, bytes: bitmapBytes(bitmap), validUntil: Infinity });
    return bitmap;
  }

  /**
   * The bitmap of each leaf, from the cache or, for all missing leaves together, from one scan of
   * the profile. `compile` turns a leaf into its predicate over the profile aliased `c`.
   */
  async leaves(leaves: readonly Leaf[], compile: (node: Condition, params: SqlParams) => string): Promise<Map<string, RoaringBitmap32>> {
    const out = new Map<string, RoaringBitmap32>();
    const missing: Array<{ leaf: Leaf; cacheKey: string }> = [];
    const now = Date.now();
    for (const leaf of leaves) {
      const cacheKey = `${leaf.key}|${this.stamp(leaf.node)}`;
      const hit = this.cache.get(cacheKey) as CachedBitmap | undefined;
      if (hit && now < hit.validUntil) out.set(leaf.key, hit.bitmap);
      else missing.push({ leaf, cacheKey });
    }
    for (let i = 0; i < missing.length; i += LEAVES_PER_SCAN) {
      const batch = missing.slice(i, i + LEAVES_PER_SCAN);
      // Taken before compiling: a list entry expiring between the two makes the bitmap stale early, never late.
      const compiledAt = new Date();
      const params = new SqlParams();
      const predicates = batch.map(({ leaf, cacheKey }) => ({ key: cacheKey, sql: compile(leaf.node, params) }));
      const scanned = await this.scan(predicates, params);
      for (const { leaf, cacheKey } of batch) {
        const bitmap = scanned.get(cacheKey)!;
        const validUntil = kindOf(leaf.node) === 'list' ? await this.nextExpiry((leaf.node as { list: string }).list, compiledAt) : Infinity;
        this.cache.set(cacheKey, { bitmap, bytes: bitmapBytes(bitmap), validUntil });
        out.set(leaf.key, bitmap);
      }
    }
    return out;
  }

  /** Bitmaps of arbitrary predicates (exclusion steps), computed in one scan and not cached. */
  async predicates(sqls: ReadonlyArray<{ key: string; sql: string }>, params: SqlParams): Promise<Map<string, RoaringBitmap32>> {
    return this.scan(sqls, params);
  }

  /**
   * Per value of `column` (as VARCHAR, NULL for no value), its customers; one dictionary query and
   * one scan per profile build, then cached.
   */
  async valueBitmaps(column: string): Promise<ValueBitmaps> {
    const key = `values:${column}|${this.snapshot.profile}`;
    const hit = this.cache.get(key) as ValueBitmaps | undefined;
    if (hit) return hit;
    const col = `c.${ident(column)}`;
    const dictionary = await this.read<{ k: string | null }>(
      `SELECT DISTINCT CAST(${col} AS VARCHAR) AS k FROM ${PROFILE} c LIMIT ${MAX_BITMAP_VALUES + 1}`,
    );
    let entry: ValueBitmaps;
    if (dictionary.length > MAX_BITMAP_VALUES) entry = { bytes: 0, values: undefined };
    else {
      const params = new SqlParams();
      const predicates = dictionary.map((d, i) => ({
        key: String(i),
        sql: d.k === null ? `${col} IS NULL` : `CAST(${col} AS VARCHAR) = ${params.add(d.k, 'VARCHAR')}`,
      }));
      const scanned = predicates.length === 0 ? new Map<string, RoaringBitmap32>() : await this.scan(predicates, params);
      const values = dictionary.map((d, i) => ({ value: d.k, bitmap: scanned.get(String(i))! }));
      entry = { bytes: values.reduce((sum, v) => sum + bitmapBytes(v.bitmap), 0), values };
    }
    this.cache.set(key, entry);
    return entry;
  }

  /** Profile rows by row number, ordered by customer_id, with `columns`. */
  async rows(rowNumbers: readonly number[], columns: readonly string[]): Promise<Row[]> {
    if (rowNumbers.length === 0) return [];
    const placeholders = rowNumbers.map((_, i) => `$${i + 1}`).join(', ');
    return this.read(
      `SELECT ${columns.map((col) => `c.${ident(col)}`).join(', ')} FROM ${PROFILE} c WHERE c.rowid IN (${placeholders}) ORDER BY c.customer_id`,
      rowNumbers.map((n) => BigInt(n)),
    );
  }

  /** What a leaf's bitmap depends on besides its JSON: the profile build, and the dataset, list or segment it reads. */
  private stamp(node: Condition): string {
    const { profile, datasets, lists, segmentTables } = this.snapshot;
    const kind = kindOf(node);
    switch (kind) {
      case 'exists': {
        const dataset = (node as { exists: { dataset: string } }).exists.dataset;
        return `${profile}|d:${dataset}:${datasets.get(dataset) ?? 0}`;
      }
      case 'list': {
        const list = (node as { list: string }).list;
        return `${profile}|l:${list}:${lists.get(list) ?? 0}`;
      }
      case 'segment': {
        const table = segmentMembersTable((node as { segment: string }).segment).slice(1, -1);
        return `${profile}|s:${table}:${segmentTables.get(table) ?? 'none'}`;
      }
      default:
        return profile;
    }
  }

  /** The first expiry after `after` of an entry of the list: its bitmap is stale from then on. */
  private async nextExpiry(list: string, after: Date): Promise<number> {
    const [row] = await this.read<{ t: Date | null }>(
      'SELECT min(expires_at) AS t FROM list_members WHERE list_name = $1 AND expires_at > CAST($2 AS TIMESTAMPTZ)',
      [list, after.toISOString()],
    );
    return row?.t ? new Date(row.t).getTime() : Infinity;
  }

  /**
   * One scan of the profile: for each predicate, a bit per row, aggregated 32 rows to a word
   * (`bit_or` over `rowid >> 5`), so DuckDB hands back rows/32 words per predicate rather than
   * a row number per member; the words become roaring containers natively.
   */
  private async scan(
    predicates: ReadonlyArray<{ key: string; sql: string }>,
    params = new SqlParams(),
  ): Promise<Map<string, RoaringBitmap32>> {
    const bit = 'CAST(1 AS UINTEGER) << CAST(c.rowid & 31 AS UINTEGER)';
    const columns = predicates.map((p, i) => `coalesce(bit_or(${bit}) FILTER (WHERE ${p.sql}), 0) AS b${i}`);
    const sql = `SELECT CAST(c.rowid >> 5 AS UINTEGER) AS w, ${columns.join(', ')} FROM ${PROFILE} c GROUP BY 1`;
    const words = predicates.map(() => new Uint32Array(Math.ceil(Math.max(this.snapshot.rows, 1) / 32) + 1));
    const result = await this.c.run(sql, params.values);
    for (;;) {
      const chunk: DuckDBDataChunk | null = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const w = chunk.getColumnVector(0);
      const n = chunk.rowCount;
      const index = new Uint32Array(n);
      for (let i = 0; i < n; i++) index[i] = w.getItem(i) as number;
      for (let p = 0; p < predicates.length; p++) {
        const target = words[p]!;
        const bits = chunk.getColumnVector(p + 1);
        for (let i = 0; i < n; i++) {
          const word = index[i]!;
          // Rows beyond the counted ones cannot exist in one transaction; grow defensively all the same.
          if (word >= target.length) throw new Error(`row number ${word * 32} beyond the ${this.snapshot.rows} profile rows`);
          target[word] = bits.getItem(i) as number;
        }
      }
    }
    return new Map(predicates.map((p, i) => [p.key, bitmapFromWords(words[i]!)]));
  }

  private async read<T extends Row>(sql: string, values: ReadonlyArray<unknown> = []): Promise<T[]> {
    return toPlainRows<T>((await this.c.runAndReadAll(sql, values as never)).getRowObjectsJS());
  }
}

async function readSnapshot(c: DuckDBConnection): Promise<Snapshot> {
  const rows = async <T extends Row>(sql: string) => toPlainRows<T>((await c.runAndReadAll(sql)).getRowObjectsJS());
  const [profile] = await rows<{ oid: number; n: number }>(
    `SELECT (SELECT table_oid FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = '${PROFILE_TABLE}') AS oid,
            (SELECT count(*) FROM ${PROFILE}) AS n`,
  );
  const datasets = new Map((await rows<{ dataset: string; version: number }>('SELECT dataset, version FROM _snapshots')).map((r) => [r.dataset, r.version]));
  const lists = new Map((await rows<{ list_name: string; version: number }>('SELECT list_name, version FROM _list_versions')).map((r) => [r.list_name, r.version]));
  const segmentTables = new Map(
    (
      await rows<{ name: string; oid: number }>(
        `SELECT table_name AS name, table_oid AS oid FROM duckdb_tables() WHERE schema_name = 'main' AND table_name LIKE 'seg\\_%' ESCAPE '\\'`,
      )
    ).map((r) => [r.name, r.oid]),
  );
  const stamp = `p${profile?.oid ?? 0}:c${datasets.get('customers') ?? 0}:u${datasets.get('usage_monthly') ?? 0}`;
  return { profile: stamp, rows: profile?.n ?? 0, datasets, lists, segmentTables };
}

/** Whether the profile's rowids are exactly 0…rows−1 (a freshly built table's are). */
async function isDense(c: DuckDBConnection, rows: number): Promise<boolean> {
  const [row] = toPlainRows<{ lo: number | null; hi: number | null }>(
    (await c.runAndReadAll(`SELECT min(rowid) AS lo, max(rowid) AS hi FROM ${PROFILE}`)).getRowObjectsJS(),
  );
  return rows === 0 || (row?.lo === 0 && row?.hi === rows - 1);
}
