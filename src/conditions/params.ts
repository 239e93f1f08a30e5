import type { DuckDBValue } from '@duckdb/node-api';
import { duckdbDialect, type Dialect, type ParamValue } from './dialect.js';

/**
 * The bound values of one SQL statement. Every predicate compiled into the statement adds to the
 * same instance, so placeholder numbers compose: `$1…$k` from the first predicate, `$k+1…` from
 * the next. Values are never spliced into SQL text.
 */
export class SqlParams {
  private readonly bound: DuckDBValue[] = [];

  constructor(readonly dialect: Dialect = duckdbDialect) {}

  /** Binds `value` and returns its typed placeholder, e.g. `CAST($3 AS DATE)`. */
  add(value: ParamValue, sqlType: string): string {
    this.bound.push(this.dialect.bind(value));
    return this.dialect.cast(this.dialect.placeholder(this.bound.length), sqlType);
  }

  /** The values in placeholder order, for `warehouse.query(sql, params.values)`. */
  get values(): DuckDBValue[] {
    return [...this.bound];
  }

  get length(): number {
    return this.bound.length;
  }
}
