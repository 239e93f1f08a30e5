import type { Condition } from '../../conditions/condition.schemas.js';
import type { SqlParams } from '../../conditions/params.js';
import type { BreakdownValue, CustomerPredicate, PreviewCounts, PreviewRequest } from '../segment.engine.js';
import { evaluate, leavesOf } from './bitmap.algebra.js';
import type { BitmapIndex, SnapshotSession } from './bitmap.index.js';
import type { RoaringBitmap32 } from './roaring.js';

/** A prepared condition the bitmap engine can take apart (the condition service's PreparedCondition). */
export interface DecomposableCondition extends CustomerPredicate {
  expanded(): Condition;
  predicateOf(node: Condition, params: SqlParams, alias?: string): string;
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

  /** The condition's members as row numbers of the session's snapshot. */
  async members(session: SnapshotSession, condition: DecomposableCondition): Promise<RoaringBitmap32> {
    const expanded = condition.expanded();
    const leaves = leavesOf(expanded);
    const bitmaps = await session.leaves(leaves, (node, params) => condition.predicateOf(node, params, 'c'));
    return evaluate(expanded, (key) => bitmaps.get(key)!, await session.universe());
  }
}

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
