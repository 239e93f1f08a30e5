import type { Catalog, ColumnType } from '../../catalog/catalog.js';
import { WINDOW_DATASET } from '../../conditions/check.js';
import { kindOf, type AggregateCondition, type AggregateFn, type Condition, type FieldCondition, type Op, type Scalar, type Value } from '../../conditions/condition.schemas.js';
import { profileUsageColumn, usageMeasures } from '../../warehouse/schema.js';
import type { CategoryIndex, GatheredValues, NumericIndex } from './column.index.js';
import { INTEGER_NULL, type IntegerColumn, type NumberColumn } from './profile.columns.js';
import { RoaringBitmap32 } from './roaring.js';

/** Where a leaf's values come from: a stored profile column, or a window aggregate over the pivoted months. */
export type ColumnRef =
  | { kind: 'stored'; name: string; type: ColumnType }
  | { kind: 'aggregate'; fn: AggregateFn; field: string; months: string[]; type: ColumnType };

/**
 * A condition leaf the column indexes answer without DuckDB: the column it reads and how its
 * members follow from that column's index (column.index.ts).
 *
 * It must answer exactly what `compilePredicate` (src/conditions/compile.ts) answers, so it follows
 * the compiled SQL step by step: a field leaf is `col IS NOT NULL AND col op value` with the value
 * bound as the column's parameter type (DOUBLE for DECIMAL), a pivoted aggregate is the same
 * expression over the month columns with NULL (no month with data) matching nothing. What it cannot
 * follow exactly returns undefined and goes to DuckDB: text ordering, windows longer than the pivot,
 * sums and averages of DECIMAL measures (DuckDB sums those as exact decimals), values whose type
 * the parameter cast would change.
 */
export type ColumnarLeaf =
  | { column: ColumnRef & { kind: 'stored'; type: 'varchar' | 'boolean' }; members(index: CategoryIndex): RoaringBitmap32 }
  | {
      column: ColumnRef;
      numeric: true;
      members(index: NumericIndex): RoaringBitmap32;
      /** The members among gathered candidates (`NumericIndex.gather`), read value by value. */
      selectFrom(gathered: GatheredValues): RoaringBitmap32;
      /** At most how many customers match, from the index's bins (Infinity when unknown). */
      estimate(index: NumericIndex): number;
    };

export interface ColumnarContext {
  catalog: Catalog;
  windowMonths: number;
}

export function columnarLeaf(node: Condition, context: ColumnarContext): ColumnarLeaf | undefined {
  const kind = kindOf(node);
  if (kind === 'field') return fieldLeaf(node as FieldCondition, context);
  if (kind === 'aggregate') return aggregateLeaf(node as AggregateCondition, context);
  return undefined;
}

function fieldLeaf(node: FieldCondition, context: ColumnarContext): ColumnarLeaf | undefined {
  const column = context.catalog.dataset('customers')?.columns.find((c) => c.name === node.field);
  if (!column) return undefined;
  const { name, type } = column;
  if (type === 'varchar' || type === 'boolean') {
    const members = categoryMembers(node.op, node.value, type);
    return members ? { column: { kind: 'stored', name, type }, members } : undefined;
  }
  const test = numberTest(node.op, node.value, type, type === 'integer' || type === 'bigint');
  return test ? { column: { kind: 'stored', name, type }, ...numberLeaf(test) } : undefined;
}

function aggregateLeaf(node: AggregateCondition, context: ColumnarContext): ColumnarLeaf | undefined {
  const { fn, field, lastMonths, op, value } = node.aggregate;
  const measure = context.catalog.column(WINDOW_DATASET, field);
  if (!measure || lastMonths > context.windowMonths || !usageMeasures(context.catalog).includes(field)) return undefined;
  // DuckDB sums DECIMAL months exactly before the cast to DOUBLE; summing doubles here could differ in the last bit.
  if (measure.type === 'decimal' && (fn === 'sum' || fn === 'avg')) return undefined;
  const test = numberTest(op, value, fn === 'count' ? 'bigint' : 'decimal', fn === 'count');
  if (!test) return undefined;
  const months = Array.from({ length: lastMonths }, (_, i) => profileUsageColumn(field, i + 1));
  return { column: { kind: 'aggregate', fn, field, months, type: measure.type }, ...numberLeaf(test) };
}

/** The pivot's aggregate per row (NaN for NULL), as compile.ts's `pivotAggregate` computes it. */
export function aggregateValues(fn: AggregateFn, months: ReadonlyArray<IntegerColumn | NumberColumn>, rows: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let count = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const m of months) {
      const v = m.values[i]!;
      if (m.kind === 'integer' ? v === INTEGER_NULL : v !== v) continue;
      count += 1;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    switch (fn) {
      case 'count':
        out[i] = count;
        break;
      case 'sum':
        out[i] = count > 0 ? sum : NaN;
        break;
      case 'avg':
        out[i] = count > 0 ? sum / count : NaN;
        break;
      case 'min':
        out[i] = count > 0 ? min : NaN;
        break;
      case 'max':
        out[i] = count > 0 ? max : NaN;
        break;
    }
  }
  return out;
}

/** A test of one non-NULL number, or of NULL itself (`is_null`/`not_null`). */
type NumberTest =
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'set'; values: Set<number>; negate: boolean }
  | { kind: 'ne'; value: number }
  | { kind: 'null'; isNull: boolean };

/**
 * `op value` over numbers of `type`, as the bound parameter compares. Strict bounds become inclusive
 * ones on the next double (exact: no double lies between), so every range is `lo ≤ v ≤ hi`.
 * `integral`: the parameter is an integer type, which a fractional value would be cast (rounded)
 * to; such values are left to DuckDB.
 */
function numberTest(op: Op, value: Value | undefined, type: ColumnType, integral: boolean): NumberTest | undefined {
  const num = (v: Scalar | undefined): number | undefined => {
    if (type === 'date') return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? dateDays(v) : undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
    if (integral && !Number.isSafeInteger(v)) return undefined;
    // An INTEGER parameter cannot hold it: DuckDB refuses the value, and so must the answer here.
    if (type === 'integer' && Math.abs(v) > INTEGER_MAX) return undefined;
    return v;
  };
  switch (op) {
    case 'is_null':
      return { kind: 'null', isNull: true };
    case 'not_null':
      return { kind: 'null', isNull: false };
    case 'eq':
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte': {
      const v = num(value as Scalar);
      if (v === undefined) return undefined;
      if (op === 'eq') return { kind: 'range', lo: v, hi: v };
      if (op === 'lt') return { kind: 'range', lo: -Infinity, hi: nextDown(v) };
      if (op === 'lte') return { kind: 'range', lo: -Infinity, hi: v };
      if (op === 'gt') return { kind: 'range', lo: nextUp(v), hi: Infinity };
      return { kind: 'range', lo: v, hi: Infinity };
    }
    case 'between': {
      if (!Array.isArray(value) || value.length !== 2) return undefined;
      const lo = num(value[0]);
      const hi = num(value[1]);
      return lo === undefined || hi === undefined ? undefined : { kind: 'range', lo, hi };
    }
    case 'ne': {
      const v = num(value as Scalar);
      return v === undefined ? undefined : { kind: 'ne', value: v };
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(value)) return undefined;
      const values = value.map(num);
      if (values.some((v) => v === undefined)) return undefined;
      return { kind: 'set', values: new Set(values as number[]), negate: op === 'not_in' };
    }
    case 'starts_with':
    case 'contains':
      return undefined;
  }
}

/** `op value` over a VARCHAR or BOOLEAN column, as unions of its value bitmaps. */
function categoryMembers(op: Op, value: Value | undefined, type: 'varchar' | 'boolean'): ((index: CategoryIndex) => RoaringBitmap32) | undefined {
  const text = (v: Scalar | undefined): string | undefined => {
    if (type === 'boolean') return typeof v === 'boolean' ? String(v) : undefined;
    return typeof v === 'string' ? v : undefined;
  };
  switch (op) {
    case 'is_null':
      return (index) => index.nulls.clone();
    case 'not_null':
      return (index) => index.where(() => true);
    case 'eq':
    case 'ne': {
      const v = text(value as Scalar);
      if (v === undefined) return undefined;
      return op === 'eq' ? (index) => index.where((x) => x === v) : (index) => index.where((x) => x !== v);
    }
    case 'in':
    case 'not_in': {
      if (!Array.isArray(value)) return undefined;
      const values = value.map(text);
      if (values.some((v) => v === undefined)) return undefined;
      const set = new Set(values as string[]);
      return op === 'in' ? (index) => index.where((x) => set.has(x)) : (index) => index.where((x) => !set.has(x));
    }
    case 'starts_with':
    case 'contains': {
      const v = type === 'varchar' ? text(value as Scalar) : undefined;
      if (v === undefined) return undefined;
      return op === 'starts_with' ? (index) => index.where((x) => x.startsWith(v)) : (index) => index.where((x) => x.includes(v));
    }
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
    case 'between':
      // Text and boolean ordering is DuckDB's to decide.
      return undefined;
  }
}

function numberLeaf(test: NumberTest) {
  return {
    numeric: true as const,
    members: (index: NumericIndex) => numberMembers(index, test),
    selectFrom: (gathered: GatheredValues) => (test.kind === 'range' ? gathered.selectRange(test.lo, test.hi) : gathered.select(rowTest(test))),
    estimate: (index: NumericIndex) => (test.kind === 'range' ? index.estimate(test.lo, test.hi) : Infinity),
  };
}

/** The test of one row's value (`isNull`: the value is the column's NULL). */
function rowTest(test: NumberTest): (v: number, isNull: boolean) => boolean {
  switch (test.kind) {
    case 'range': {
      const { lo, hi } = test;
      return (v, isNull) => !isNull && v >= lo && v <= hi;
    }
    case 'null':
      return (_, isNull) => isNull === test.isNull;
    case 'ne':
      return (v, isNull) => !isNull && v !== test.value;
    case 'set':
      return (v, isNull) => !isNull && test.values.has(v) !== test.negate;
  }
}

function numberMembers(index: NumericIndex, test: NumberTest): RoaringBitmap32 {
  switch (test.kind) {
    case 'range':
      return index.range(test.lo, test.hi);
    case 'null':
      return (test.isNull ? index.nulls : index.nonNull).clone();
    case 'ne':
      return RoaringBitmap32.andNot(index.nonNull, index.range(test.value, test.value));
    case 'set':
      return test.negate ? RoaringBitmap32.andNot(index.nonNull, index.anyOf(test.values)) : index.anyOf(test.values);
  }
}

function dateDays(iso: string): number | undefined {
  const t = Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10)));
  // DuckDB refuses an impossible date such as 2026-02-30; leave those to it.
  return new Date(t).toISOString().slice(0, 10) === iso ? t / 86_400_000 : undefined;
}

const INTEGER_MAX = 2147483647;

const scratch = new Float64Array(1);
const scratchBits = new BigInt64Array(scratch.buffer);

/** The smallest double above `v` (for `> v` as `>= nextUp(v)`). */
function nextUp(v: number): number {
  if (v === 0) return Number.MIN_VALUE;
  scratch[0] = v;
  scratchBits[0] = scratchBits[0]! + (v > 0 ? 1n : -1n);
  return scratch[0]!;
}

function nextDown(v: number): number {
  return -nextUp(-v);
}
