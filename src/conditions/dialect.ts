import { listValue, type DuckDBValue } from '@duckdb/node-api';
import { sqlType, type ColumnType } from '../catalog/catalog.js';

/** A value the compiler binds: scalars, or a list of scalars for large `in` sets. */
export type ParamValue = string | number | boolean | ReadonlyArray<string | number | boolean>;

/**
 * The seam between the SQL Quanke writes (conditions, previews, the funnel, the control draw) and
 * a SQL engine. Everything engine-specific goes through here, so another engine needs one more
 * implementation, not a second compiler. Keep it small.
 *
 * Type names passed to `cast` are the portable spellings the compiler uses (`VARCHAR`, `INTEGER`,
 * `BIGINT`, `DOUBLE`, `DECIMAL(p,s)`, `DATE`, `TIMESTAMPTZ`, `BOOLEAN`, and `T[]` lists of them);
 * a dialect translates the ones its engine spells differently. `V` is the driver's bound value.
 */
export interface Dialect<V = DuckDBValue> {
  readonly name: string;
  /** The n-th bound parameter (1-based). */
  placeholder(index: number): string;
  /** A driver value for a bound parameter. */
  bind(value: ParamValue): V;
  cast(expression: string, sqlType: string): string;
  /** The engine type a value of this catalog type is bound as (for comparisons against it). */
  paramType(type: ColumnType): string;
  /** The type a sum over this catalog type accumulates in, exact for money. */
  sumType(type: ColumnType): string;
  quoteIdent(name: string): string;
  startsWith(expression: string, prefix: string): string;
  contains(expression: string, fragment: string): string;
  /** `expression IN (the elements of a bound list)`; hashed by the engine, for big `in` sets. */
  inList(expression: string, listParam: string): string;
  /** The smallest / largest non-null argument, NULL when all are NULL. */
  leastIgnoringNulls(expressions: string[]): string;
  greatestIgnoringNulls(expressions: string[]): string;
  /** The list type of an element type (`VARCHAR` → `VARCHAR[]`). */
  listType(elementType: string): string;
  /** Some value of the group (which one does not matter): the cheapest aggregate the engine has. */
  anyValue(expression: string): string;
  /** Bitwise exclusive or of two BIGINT expressions. */
  xor(a: string, b: string): string;
  /**
   * Whether one `GROUP BY GROUPING SETS` may compute the count and every breakdown in one scan.
   * Without it (Citus refuses grouping sets across shards) the preview is one grouped query per
   * breakdown, combined with `UNION ALL`.
   */
  readonly groupingSets: boolean;
}

export function safeIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`refusing unsafe identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export const duckdbDialect: Dialect<DuckDBValue> = {
  name: 'duckdb',
  placeholder: (index) => `$${index}`,
  bind: (value) => (Array.isArray(value) ? duckdbList(value as ReadonlyArray<string | number | boolean>) : (value as DuckDBValue)),
  cast: (expression, type) => `CAST(${expression} AS ${type})`,
  // Bound as DOUBLE, not the column's DECIMAL(10,2): that cast would round 99.999 to 100.00 and
  // change what `arpu > 99.999` means.
  paramType: (type) => (type === 'decimal' ? 'DOUBLE' : sqlType(type)),
  sumType: (type) => (type === 'decimal' ? 'DECIMAL(18,2)' : 'BIGINT'),
  quoteIdent: safeIdent,
  startsWith: (expression, prefix) => `starts_with(${expression}, ${prefix})`,
  contains: (expression, fragment) => `contains(${expression}, ${fragment})`,
  inList: (expression, listParam) => `${expression} IN (SELECT unnest(${listParam}))`,
  // DuckDB's least/greatest skip NULL arguments, which is exactly "ignoring months without data".
  leastIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `least(${expressions.join(', ')})`),
  greatestIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `greatest(${expressions.join(', ')})`),
  listType: (elementType) => `${elementType}[]`,
  anyValue: (expression) => `arbitrary(${expression})`,
  xor: (a, b) => `xor(${a}, ${b})`,
  groupingSets: true,
};

/**
 * A list parameter. The driver types a list by its FIRST element, so `[1, 2.5]` would be an
 * INTEGER list that cannot hold 2.5, and `[1, 2 ** 40]` one that cannot hold 2^40: whole numbers
 * go as 128-bit integers, other numbers as their shortest exact text, and the placeholder's cast
 * makes them the compared type.
 */
function duckdbList(items: ReadonlyArray<string | number | boolean>): DuckDBValue {
  if (items.length > 0 && items.every((v) => typeof v === 'number')) {
    const numbers = items as readonly number[];
    return listValue(numbers.every(Number.isInteger) ? numbers.map((v) => BigInt(v)) : numbers.map((v) => String(v)));
  }
  return listValue([...items]);
}
