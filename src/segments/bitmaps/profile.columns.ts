import type { DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import type { ColumnType } from '../../catalog/catalog.js';
import { ident, toPlainRows } from '../../warehouse/duckdb.js';
import { PROFILE_TABLE } from '../../warehouse/schema.js';

/**
 * One column of `customer_profile` held in memory as a typed array indexed by row number (the
 * profile's `rowid`), so a condition leaf over it is one tight loop instead of a DuckDB scan that
 * hands back millions of row numbers. Measured at 10M rows on this machine: a `x >= v` leaf takes
 * tens of milliseconds here against 150+ ms for DuckDB to produce the same set (see
 * bench/bitmap.bench.ts); a column costs 4 (INTEGER, codes) or 8 (DECIMAL, BIGINT, DATE) bytes a row.
 */
export type ProfileColumn = IntegerColumn | NumberColumn | CategoricalColumn;

/** INTEGER values; NULL is `INTEGER_NULL`, a value the loader checked no row really holds. */
export interface IntegerColumn {
  kind: 'integer';
  values: Int32Array;
  bytes: number;
}

/** DECIMAL, BIGINT (when every value is exact as a double) and DATE (days since 1970-01-01); NULL is NaN. */
export interface NumberColumn {
  kind: 'number';
  values: Float64Array;
  bytes: number;
}

/** VARCHAR and BOOLEAN (as `true`/`false`, DuckDB's text of them): a code per row into `dictionary`. */
export interface CategoricalColumn {
  kind: 'categorical';
  codes: Uint16Array;
  /** Distinct non-NULL values as text, in byte order; a row's code indexes it. */
  dictionary: string[];
  bytes: number;
}

export const INTEGER_NULL = -2147483648;
export const CATEGORY_NULL = 0xffff;
/** More distinct values than this and a column is not worth a dictionary (phone numbers, names): DuckDB answers. */
export const MAX_CATEGORIES = 4096;
const EXACT_DOUBLE = 2 ** 53;

/**
 * Loads `column` of the profile, as the transaction on `c` sees it, or undefined when it cannot be
 * held exactly (too many distinct values, a BIGINT beyond 2^53, an INTEGER column that holds the
 * NULL sentinel). `rows` is the profile's row count in that transaction.
 */
export async function loadProfileColumn(c: DuckDBConnection, name: string, type: ColumnType, rows: number): Promise<ProfileColumn | undefined> {
  const col = `c.${ident(name)}`;
  switch (type) {
    case 'integer': {
      const [range] = await read<{ lo: number | null }>(c, `SELECT min(${col}) AS lo FROM ${PROFILE_TABLE} c`);
      if (range?.lo === INTEGER_NULL) return undefined;
      const values = new Int32Array(rows);
      await fill(c, `coalesce(${col}, ${INTEGER_NULL})`, (r, chunk) => place(values, r, chunk));
      return { kind: 'integer', values, bytes: values.byteLength };
    }
    case 'bigint':
    case 'decimal':
    case 'date': {
      if (type === 'bigint') {
        const [range] = await read<{ m: number | null }>(c, `SELECT max(abs(CAST(${col} AS HUGEINT))) AS m FROM ${PROFILE_TABLE} c`);
        if (range?.m !== null && range?.m !== undefined && Number(range.m) > EXACT_DOUBLE) return undefined;
      }
      const value = type === 'date' ? `CAST(date_diff('day', DATE '1970-01-01', ${col}) AS DOUBLE)` : `CAST(${col} AS DOUBLE)`;
      const values = new Float64Array(rows);
      await fill(c, `coalesce(${value}, CAST('NaN' AS DOUBLE))`, (r, chunk) => place(values, r, chunk));
      return { kind: 'number', values, bytes: values.byteLength };
    }
    case 'varchar':
    case 'boolean': {
      const text = `CAST(${col} AS VARCHAR)`;
      const found = await read<{ v: string }>(
        c,
        `SELECT DISTINCT ${text} AS v FROM ${PROFILE_TABLE} c WHERE ${col} IS NOT NULL LIMIT ${MAX_CATEGORIES + 1}`,
      );
      if (found.length > MAX_CATEGORIES) return undefined;
      const dictionary = found.map((f) => f.v).sort(byBytes);
      const codes = new Uint16Array(rows).fill(CATEGORY_NULL);
      if (dictionary.length > 0) {
        // An ENUM of the dictionary turns each value into its index inside DuckDB (`enum_code`), so
        // only two bytes a row cross into JS instead of a string.
        const enumType = `ENUM(${dictionary.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')})`;
        await fill(c, `coalesce(CAST(enum_code(CAST(${text} AS ${enumType})) AS USMALLINT), ${CATEGORY_NULL})`, (r, chunk) =>
          place(codes, r, chunk),
        );
      }
      return { kind: 'categorical', codes, dictionary, bytes: codes.byteLength };
    }
  }
}

/** Byte order of UTF-8, which is DuckDB's order of VARCHAR and the breakdown's tie order. */
export function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

type Typed = Int32Array | Float64Array | Uint16Array;

/** Copies a chunk's values to their row numbers (chunks of a parallel scan arrive in any order). */
function place(target: Typed, rowNumbers: Uint32Array, chunk: DuckDBDataChunk): void {
  const values = vectorItems(chunk, 1) as Typed;
  for (let i = 0; i < rowNumbers.length; i++) target[rowNumbers[i]!] = values[i]!;
}

/** Streams `SELECT rowid, expression FROM customer_profile` chunk by chunk into `consume`. */
async function fill(c: DuckDBConnection, expression: string, consume: (rowNumbers: Uint32Array, chunk: DuckDBDataChunk) => void): Promise<void> {
  const result = await c.run(`SELECT CAST(c.rowid AS UINTEGER) AS r, ${expression} AS v FROM ${PROFILE_TABLE} c`);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    consume(vectorItems(chunk, 0) as Uint32Array, chunk);
  }
}

/**
 * The typed array behind a fixed-width vector of a chunk. @duckdb/node-api keeps it as the
 * vector's `items` (a view of DuckDB's own buffer) without exporting it; reading values one by
 * one through `getItem` costs more than the scan itself at millions of rows.
 */
export function vectorItems(chunk: DuckDBDataChunk, column: number): ArrayLike<number> {
  const vector = chunk.getColumnVector(column) as unknown as { items?: ArrayLike<number> };
  if (!vector.items || vector.items.length !== chunk.rowCount) throw new Error(`column ${column} of the chunk is not a fixed-width vector`);
  return vector.items;
}

async function read<T extends Record<string, unknown>>(c: DuckDBConnection, sql: string): Promise<T[]> {
  return toPlainRows<T>((await c.runAndReadAll(sql)).getRowObjectsJS());
}
