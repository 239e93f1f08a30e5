import type { DuckDBValue } from '@duckdb/node-api';
import type { Catalog, ColumnType, Dataset } from '../catalog/catalog.js';
import { PROFILE_TABLE, profileUsageColumn, usageMeasures } from '../warehouse/schema.js';
import { segmentMembersTable } from '../warehouse/tables.js';
import { WINDOW_DATASET } from './check.js';
import {
  kindOf,
  type AggregateCondition,
  type AggregateFn,
  type Condition,
  type FieldCondition,
  type Op,
  type Scalar,
  type Value,
} from './condition.schemas.js';
import type { Dialect } from './dialect.js';
import { SqlParams, type AnySqlParams } from './params.js';

/**
 * Up to this many `in` values are bound one by one (the engine can prune row groups with them);
 * beyond it they are bound as one list and joined by hash.
 */
const INLINE_IN_VALUES = 64;

/** What the compiler needs besides the (checked) condition. */
export interface CompileContext {
  catalog: Catalog;
  /** Months pivoted onto the profile (`u_<measure>_m1…mK`); windows longer than this read usage_monthly. */
  windowMonths: number;
  /** The instant list expiry is judged at. */
  now: Date;
  /** Conditions of the rules referenced, transitively, by name. */
  rules: ReadonlyMap<string, Condition>;
}

/** Anything that can produce a predicate: a `PreparedCondition` from the condition service. */
export interface PredicateSource {
  predicate(params: AnySqlParams, alias?: string): string;
}

/**
 * A two-valued boolean SQL expression over `customer_profile` aliased `alias`: TRUE for members,
 * FALSE otherwise, never NULL, so `NOT` of it is exactly the complement. Values go into `params`.
 */
export function compilePredicate(condition: Condition, context: CompileContext, params: AnySqlParams, alias = 'c'): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(alias)) throw new Error(`refusing unsafe alias ${JSON.stringify(alias)}`);
  return new Compiler(context, params, alias).visit(condition, undefined);
}

/**
 * For a leaf that is membership of a set of customer ids (`exists`, `list`, `segment`), the query
 * `SELECT customer_id …` of that set, non-NULL ids only (possibly repeated); undefined for any
 * other node. The leaf's predicate is exactly `c.customer_id IN (this query)`, so its members can
 * be found from the set's ids without scanning the profile (the bitmap engine's id index).
 */
export function compileLeafIds(node: Condition, context: CompileContext, params: AnySqlParams): string | undefined {
  const predicate = compilePredicate(node, context, params, 'c');
  const prefix = `c.${params.dialect.quoteIdent('customer_id')} IN (`;
  const kind = kindOf(node);
  if ((kind !== 'exists' && kind !== 'list' && kind !== 'segment') || !predicate.startsWith(prefix) || !predicate.endsWith(')')) return undefined;
  return predicate.slice(prefix.length, -1);
}

/** `SELECT c.customer_id FROM customer_profile c WHERE …` with its bound values (DuckDB's unless `params` says otherwise). */
export function compileMembersQuery<V = DuckDBValue>(prepared: PredicateSource, params: SqlParams<V> = new SqlParams<V>()): { sql: string; params: V[] } {
  const where = prepared.predicate(params, 'c');
  return { sql: `SELECT c.customer_id FROM ${PROFILE_TABLE} c WHERE ${where}`, params: params.values };
}

class Compiler {
  private readonly dialect: Dialect<unknown>;
  private readonly customers: Dataset;
  private readonly pivoted: ReadonlySet<string>;

  constructor(
    private readonly context: CompileContext,
    private readonly params: AnySqlParams,
    private readonly alias: string,
  ) {
    this.dialect = params.dialect;
    this.customers = context.catalog.dataset('customers')!;
    this.pivoted = new Set(usageMeasures(context.catalog));
  }

  private col(alias: string, name: string): string {
    return `${alias}.${this.dialect.quoteIdent(name)}`;
  }

  private get customerId(): string {
    return this.col(this.alias, 'customer_id');
  }

  /** `inside` is the dataset (and its alias) of an enclosing `exists`. */
  visit(node: Condition, inside: { dataset: Dataset; alias: string } | undefined): string {
    const kind = kindOf(node);
    switch (kind) {
      case 'all':
        return `(${(node as { all: Condition[] }).all.map((c) => this.visit(c, inside)).join(' AND ')})`;
      case 'any':
        return `(${(node as { any: Condition[] }).any.map((c) => this.visit(c, inside)).join(' OR ')})`;
      case 'not':
        return `(NOT ${this.visit((node as { not: Condition }).not, inside)})`;
      case 'field':
        return this.field(node as FieldCondition, inside ?? { dataset: this.customers, alias: this.alias });
      case 'exists':
        return this.exists((node as { exists: { dataset: string; where?: Condition } }).exists);
      case 'aggregate':
        return this.aggregate(node as AggregateCondition);
      case 'rule': {
        const name = (node as { rule: string }).rule;
        const condition = this.context.rules.get(name);
        if (!condition) throw new Error(`rule ${name} was not resolved before compiling`);
        return this.visit(condition, undefined);
      }
      case 'segment':
        return `${this.customerId} IN (SELECT customer_id FROM ${segmentMembersTable((node as { segment: string }).segment)} WHERE customer_id IS NOT NULL)`;
      case 'list': {
        const name = this.params.add((node as { list: string }).list, 'VARCHAR');
        const now = this.params.add(this.context.now.toISOString(), 'TIMESTAMPTZ');
        return `${this.customerId} IN (SELECT customer_id FROM list_members WHERE list_name = ${name} AND (expires_at IS NULL OR expires_at > ${now}))`;
      }
    }
  }

  private field(node: FieldCondition, scope: { dataset: Dataset; alias: string }): string {
    const column = scope.dataset.columns.find((c) => c.name === node.field);
    if (!column) throw new Error(`field ${node.field} was not checked against ${scope.dataset.name}`);
    return this.compare(this.col(scope.alias, column.name), 'column', node.op, node.value, this.dialect.paramType(column.type));
  }

  private exists(node: { dataset: string; where?: Condition }): string {
    const dataset = this.context.catalog.dataset(node.dataset);
    if (!dataset) throw new Error(`dataset ${node.dataset} was not checked`);
    const inner = `${this.alias}_r`;
    const id = this.col(inner, 'customer_id');
    // NULL ids would make `IN` answer NULL instead of FALSE, and `NOT` of that would drop the row.
    const filter = node.where ? ` AND ${this.visit(node.where, { dataset, alias: inner })}` : '';
    return `${this.customerId} IN (SELECT ${id} FROM ${this.dialect.quoteIdent(dataset.name)} ${inner} WHERE ${id} IS NOT NULL${filter})`;
  }

  private aggregate(node: AggregateCondition): string {
    const { fn, field, lastMonths, op, value } = node.aggregate;
    const column = this.context.catalog.column(WINDOW_DATASET, field);
    if (!column) throw new Error(`aggregate field ${field} was not checked`);
    const paramType = fn === 'count' ? 'BIGINT' : 'DOUBLE';
    if (lastMonths <= this.context.windowMonths && this.pivoted.has(field)) {
      const months = Array.from({ length: lastMonths }, (_, i) => this.col(this.alias, profileUsageColumn(field, i + 1)));
      const [expression, nullable] = this.pivotAggregate(fn, months, column.type);
      return this.compare(expression, nullable ? 'expression' : false, op, value, paramType);
    }
    return this.windowAggregate(fn, field, lastMonths, op, value, paramType);
  }

  /**
   * The aggregate over the profile's month columns: a column expression, no join. Returns the
   * expression and whether it can be NULL (no month with data).
   */
  private pivotAggregate(fn: AggregateFn, months: string[], type: ColumnType): [string, boolean] {
    const count = `(${months.map((m) => this.dialect.cast(`${m} IS NOT NULL`, 'INTEGER')).join(' + ')})`;
    const sumType = this.dialect.sumType(type);
    const sum = `(${months.map((m) => `COALESCE(${this.dialect.cast(m, sumType)}, 0)`).join(' + ')})`;
    switch (fn) {
      case 'count':
        return [count, false];
      case 'sum':
        return [`(CASE WHEN ${count} > 0 THEN ${sum} END)`, true];
      case 'avg':
        return [`(${this.dialect.cast(sum, 'DOUBLE')} / NULLIF(${count}, 0))`, true];
      case 'min':
        return [this.dialect.leastIgnoringNulls(months), true];
      case 'max':
        return [this.dialect.greatestIgnoringNulls(months), true];
    }
  }

  /**
   * Windows longer than the pivot: group the window's usage rows per customer. A customer with no
   * rows has count 0, so when 0 satisfies the comparison those customers are added explicitly.
   */
  private windowAggregate(fn: AggregateFn, field: string, lastMonths: number, op: Op, value: Value | undefined, paramType: string): string {
    const u = `${this.alias}_u`;
    const id = this.col(u, 'customer_id');
    const months = this.params.add(lastMonths, 'INTEGER');
    const window = `SELECT ${id} FROM ${this.dialect.quoteIdent(WINDOW_DATASET)} ${u} WHERE ${id} IS NOT NULL AND ${this.col(u, 'month')} IN (SELECT month FROM usage_months WHERE month_rank <= ${months})`;
    const aggregate = `${fn}(${this.col(u, field)})`;
    const having = this.compare(aggregate, fn === 'count' ? false : 'expression', op, value, paramType);
    const grouped = `${this.customerId} IN (${window} GROUP BY ${id} HAVING ${having})`;
    if (fn === 'count' && zeroSatisfies(op, value)) return `(${grouped} OR ${this.customerId} NOT IN (${window}))`;
    return grouped;
  }

  /**
   * `expression op value`, two-valued: when the expression may be NULL it matches nothing (`ne`
   * and `not_in` included), so callers can negate the result safely. A column is guarded with
   * `IS NOT NULL AND`, which the engine pushes into the scan; a computed expression with
   * `COALESCE(…, FALSE)`, so it is evaluated once per row instead of twice.
   */
  private compare(expression: string, nullable: 'column' | 'expression' | false, op: Op, value: Value | undefined, paramType: string): string {
    if (op === 'is_null') return `${expression} IS NULL`;
    if (op === 'not_null') return `${expression} IS NOT NULL`;
    const comparison = this.comparison(expression, op, value, paramType);
    if (nullable === 'column') return `(${expression} IS NOT NULL AND ${comparison})`;
    if (nullable === 'expression') return `COALESCE(${comparison}, FALSE)`;
    return `(${comparison})`;
  }

  private comparison(expression: string, op: Exclude<Op, 'is_null' | 'not_null'>, value: Value | undefined, paramType: string): string {
    const one = () => this.params.add(value as Scalar, paramType);
    switch (op) {
      case 'eq':
        return `${expression} = ${one()}`;
      case 'ne':
        return `${expression} <> ${one()}`;
      case 'lt':
        return `${expression} < ${one()}`;
      case 'lte':
        return `${expression} <= ${one()}`;
      case 'gt':
        return `${expression} > ${one()}`;
      case 'gte':
        return `${expression} >= ${one()}`;
      case 'between': {
        const [lo, hi] = value as [Scalar, Scalar];
        return `${expression} BETWEEN ${this.params.add(lo, paramType)} AND ${this.params.add(hi, paramType)}`;
      }
      case 'in':
        return this.membership(expression, value as Scalar[], paramType);
      case 'not_in':
        return `NOT (${this.membership(expression, value as Scalar[], paramType)})`;
      case 'starts_with':
        return this.dialect.startsWith(expression, one());
      case 'contains':
        return this.dialect.contains(expression, one());
    }
  }

  private membership(expression: string, values: Scalar[], paramType: string): string {
    if (values.length <= INLINE_IN_VALUES) {
      return `${expression} IN (${values.map((v) => this.params.add(v, paramType)).join(', ')})`;
    }
    return this.dialect.inList(expression, this.params.add(values, this.dialect.listType(paramType)));
  }
}

/** Whether a count of 0 satisfies `op value` (values are whole numbers, checked). */
export function zeroSatisfies(op: Op, value: Value | undefined): boolean {
  const v = value as number;
  switch (op) {
    case 'eq':
      return v === 0;
    case 'ne':
      return v !== 0;
    case 'lt':
      return 0 < v;
    case 'lte':
      return 0 <= v;
    case 'gt':
      return 0 > v;
    case 'gte':
      return 0 >= v;
    case 'between': {
      const [lo, hi] = value as [number, number];
      return lo <= 0 && 0 <= hi;
    }
    case 'in':
      return (value as number[]).includes(0);
    case 'not_in':
      return !(value as number[]).includes(0);
    case 'is_null':
    case 'not_null':
    case 'starts_with':
    case 'contains':
      return false;
  }
}
