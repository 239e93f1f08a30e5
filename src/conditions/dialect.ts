import { listValue, type DuckDBValue } from '@duckdb/node-api';
import { sqlType, type ColumnType } from '../catalog/catalog.js';

/** A value the compiler binds: scalars, or a list of scalars for large `in` sets. */
export type ParamValue = string | number | boolean | ReadonlyArray<string | number | boolean>;

/**
 * The seam between the condition compiler and a SQL engine. Everything engine-specific the
 * compiler emits goes through here, so another engine (a distributed SQL engine over the same
 * Parquet) needs one more implementation, not a second compiler. Keep it small.
 */
export interface Dialect {
  /** The n-th bound parameter (1-based). */
  placeholder(index: number): string;
  /** A driver value for a bound parameter. */
  bind(value: ParamValue): DuckDBValue;
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
}

export const duckdbDialect: Dialect = {
  placeholder: (index) => `$${index}`,
  bind: (value) => (Array.isArray(value) ? listValue([...(value as ReadonlyArray<string | number | boolean>)]) : (value as DuckDBValue)),
  cast: (expression, type) => `CAST(${expression} AS ${type})`,
  // Bound as DOUBLE, not the column's DECIMAL(10,2): that cast would round 99.999 to 100.00 and
  // change what `arpu > 99.999` means.
  paramType: (type) => (type === 'decimal' ? 'DOUBLE' : sqlType(type)),
  sumType: (type) => (type === 'decimal' ? 'DECIMAL(18,2)' : 'BIGINT'),
  quoteIdent(name) {
    if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`refusing unsafe identifier ${JSON.stringify(name)}`);
    return `"${name}"`;
  },
  startsWith: (expression, prefix) => `starts_with(${expression}, ${prefix})`,
  contains: (expression, fragment) => `contains(${expression}, ${fragment})`,
  inList: (expression, listParam) => `${expression} IN (SELECT unnest(${listParam}))`,
  // DuckDB's least/greatest skip NULL arguments, which is exactly "ignoring months without data".
  leastIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `least(${expressions.join(', ')})`),
  greatestIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `greatest(${expressions.join(', ')})`),
  listType: (elementType) => `${elementType}[]`,
};
