import type { DuckDBValue } from '@duckdb/node-api';
import { duckdbDialect, type Dialect, type ParamValue } from './dialect.js';

/**
 * The bound values of one SQL statement. Every predicate compiled into the statement adds to the
 * same instance, so placeholder numbers compose: `$1…$k` from the first predicate, `$k+1…` from
 * the next. Values are never spliced into SQL text. `V` is the driver's value type (DuckDB's by
 * default; `unknown` for node-postgres).
 */
export class SqlParams<V = DuckDBValue> {
  private readonly bound: V[] = [];
  readonly dialect: Dialect<V>;

  constructor(dialect?: Dialect<V>) {
    this.dialect = dialect ?? (duckdbDialect as Dialect<unknown> as Dialect<V>);
  }

  /** Binds `value` and returns its typed placeholder, e.g. `CAST($3 AS DATE)`. */
  add(value: ParamValue, sqlType: string): string {
    this.bound.push(this.dialect.bind(value));
    return this.dialect.cast(this.dialect.placeholder(this.bound.length), sqlType);
  }

  /** The values in placeholder order, for `warehouse.query(sql, params.values)`. */
  get values(): V[] {
    return [...this.bound];
  }

  get length(): number {
    return this.bound.length;
  }
}

/** Parameters of any dialect: what code that only emits SQL (the compiler, the funnel) takes. */
export type AnySqlParams = SqlParams<unknown>;
