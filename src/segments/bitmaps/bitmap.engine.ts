import { kindOf, type Condition } from '../../conditions/condition.schemas.js';
import type { SqlParams } from '../../conditions/params.js';
import type { BreakdownValue, CustomerPredicate, PreviewCounts, PreviewRequest } from '../segment.engine.js';
import { canonicalJson, evaluate, leavesOf } from './bitmap.algebra.js';
import { NumericIndex } from './column.index.js';
import type { ColumnarLeaf } from './leaf.columnar.js';
import { RoaringBitmap32 } from './roaring.js';
import type { BitmapIndex, SnapshotSession } from './bitmap.index.js';

/** A prepared condition the bitmap engine can take apart (the condition service's PreparedCondition). */
export interface DecomposableCondition extends CustomerPredicate {
  expanded(): Condition;
  predicateOf(node: Condition, params: SqlParams, alias?: string): string;
  idsOf?(node: Condition, params: SqlParams): string | undefined;
}

/** Answers previews in one DuckDB query (the SQL engine). */
export interface SqlPreviewer {
  preview(condition: CustomerPredicate, request: PreviewRequest): Promise<PreviewCounts>;
}

/**
 * Previews as bitmap algebra: the condition's leaves come from the index (cached per snapshot, or
 * all missing ones from one scan), the count is the result's cardinality, each breakdown value's
 * count the cardinality of its intersection with the result, and the sample one DuckDB lookup of
 * a few row numbers. Breakdowns over columns with too many values go to the SQL engine whole.
 */
export class BitmapSegmentEngine {
  constructor(
    private readonly index: BitmapIndex,
    private readonly sql: SqlPreviewer,
  ) {}

  async preview(condition: DecomposableCondition, request: PreviewRequest): Promise<PreviewCounts> {
    const answer = await this.index.session(async (session) => {
      const breakdowns = [];
      for (const column of request.breakdown) {
        const values = (await session.valueBitmaps(column)).values;
        if (!values) return undefined;
        breakdowns.push({ column, values });
      }
      const result = await this.members(session, condition);
      const count = result.size;
      const breakdown: PreviewCounts['breakdown'] = {};
      for (const { column, values } of breakdowns) {
        const counted: BreakdownValue[] = [];
        for (const v of values) {
          const n = result.andCardinality(v.bitmap);
          if (n > 0) counted.push({ value: v.value, count: n });
        }
        counted.sort(byCountThenValue);
        const top = counted.slice(0, request.topValues);
        breakdown[column] = {
          values: top,
          otherCount: count - top.reduce((sum, v) => sum + v.count, 0),
        };
      }
      // The first members by row number: they sit in one or two of DuckDB's row groups, which a
      // lookup by row number reads alone. Members spread over the table (one per city, as the SQL
      // engine picks them) cost a read of every row group they fall in, 15–20 ms each at 10M.
      const sampleRows = count === 0 ? [] : Array.from(result.rangeUint32Array(0, Math.min(request.sampleSize, count)));
      const sample = (await session.rows(sampleRows, request.sampleColumns)).map(plainDates);
      return { count, breakdown, sample };
    });
    return answer ?? this.sql.preview(condition, request);
  }

  /**
   * The condition's members as row numbers of the session's snapshot. An `all` whose numeric leaves
   * (`arpu >= 50`, an average over months) are not cached yet is evaluated without them first, and
   * they then filter what is left value by value when that is a small share of the customers: the
   * leaf an analyst just changed costs a read of a few hundred thousand values instead of a union
   * over the whole column (3 ms against 30–80 ms at 10M). Such partial answers are not cached.
   */
  async members(session: SnapshotSession, condition: DecomposableCondition): Promise<RoaringBitmap32> {
    const expanded = condition.expanded();
    if (kindOf(expanded) === 'all') {
      const narrowed = await this.narrowedAll(session, condition, (expanded as { all: Condition[] }).all);
      if (narrowed) return narrowed;
    }
    return this.evaluated(session, condition, expanded);
  }

  private async evaluated(session: SnapshotSession, condition: DecomposableCondition, node: Condition): Promise<RoaringBitmap32> {
    const bitmaps = await session.leaves(
      leavesOf(node),
      (leaf, params) => condition.predicateOf(leaf, params, 'c'),
      condition.idsOf && ((leaf, params) => condition.idsOf!(leaf, params)),
    );
    return evaluate(node, (key) => bitmaps.get(key)!, await session.universe());
  }

  private async narrowedAll(session: SnapshotSession, condition: DecomposableCondition, children: readonly Condition[]): Promise<RoaringBitmap32 | undefined> {
    const deferred: Array<{ node: Condition; negate: boolean }> = [];
    const rest: Condition[] = [];
    for (const child of children) {
      const negate = kindOf(child) === 'not';
      const node = negate ? (child as { not: Condition }).not : child;
      const leaf = session.columnarLeaf(node);
      if (leaf && 'numeric' in leaf && !session.cached({ node, key: canonicalJson(node) })) deferred.push({ node, negate });
      else rest.push(child);
    }
    if (deferred.length === 0 || rest.length === 0) return undefined;
    const restNode: Condition = { all: rest };
    const kept = await session.derived(restNode, () => this.evaluated(session, condition, restNode));
    let result = kept.bitmap;
    const filters = [];
    for (const { node, negate } of deferred) {
      const leaf = session.columnarLeaf(node) as Extract<ColumnarLeaf, { numeric: true }>;
      const index = await session.columnIndex(leaf.column);
      // Narrowest first, so the next ones read fewer values; a negated test narrows by its complement.
      const share = index instanceof NumericIndex ? leaf.estimate(index) / session.snapshot.rows : 1;
      filters.push({ node, negate, leaf, index, share: negate ? 1 - share : share });
    }
    filters.sort((a, b) => a.share - b.share);
    for (const [i, { node, negate, leaf, index }] of filters.entries()) {
      if (index instanceof NumericIndex && result.size <= session.snapshot.rows / POSITIONAL_SHARE) {
        // The first filter reads the values of the kept part, gathered once and cached with it: moving
        // one slider again reads them in order rather than across the whole column.
        const values = i === 0 ? session.gathered(kept.key, leafColumnName(leaf), index, result) : index.gather(result);
        const passed = leaf.selectFrom(values);
        result = negate ? RoaringBitmap32.andNot(result, passed) : passed;
        // The whole leaf, computed after this answer: the next preview that changes another leaf finds it.
        session.remember(node, () => leaf.members(index));
        continue;
      }
      const whole = (await session.leaves([{ node, key: canonicalJson(node) }], (n, params) => condition.predicateOf(n, params, 'c'))).get(canonicalJson(node))!;
      result = negate ? RoaringBitmap32.andNot(result, whole) : RoaringBitmap32.and(result, whole);
    }
    return result;
  }
}

function leafColumnName(leaf: ColumnarLeaf): string {
  const column = leaf.column;
  return column.kind === 'stored' ? column.name : `${column.fn}(${column.months.join(',')})`;
}

/** A leaf filters candidates value by value when they are at most 1/POSITIONAL_SHARE of the customers (cheaper than a union of its bins up to about there, measured at 10M). */
const POSITIONAL_SHARE = 4;

/** Most customers first; ties by value (as text, byte order, no value last), as the SQL engine orders them. */
function byCountThenValue(a: BreakdownValue, b: BreakdownValue): number {
  if (a.count !== b.count) return b.count - a.count;
  if (a.value === b.value) return 0;
  if (a.value === null) return 1;
  if (b.value === null) return -1;
  return Buffer.compare(Buffer.from(a.value), Buffer.from(b.value));
}

/** DATE values as `YYYY-MM-DD`, as the SQL engine's sample shows them. */
function plainDates<T extends Record<string, unknown>>(row: T): T {
  for (const key in row) {
    const value = row[key];
    if (value instanceof Date) (row as Record<string, unknown>)[key] = value.toISOString().slice(0, 10);
  }
  return row;
}
