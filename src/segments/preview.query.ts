import type { AnySqlParams } from '../conditions/params.js';
import { PROFILE_TABLE } from '../warehouse/schema.js';
import type { Row } from '../warehouse/duckdb.js';

/** Values of one breakdown column, most frequent first; `null` stands for customers without a value. */
export interface BreakdownValue {
  value: string | null;
  count: number;
}

export interface PreviewCounts {
  count: number;
  /** Per column: its most frequent values (up to `topValues`), and how many customers the rest hold. */
  breakdown: Record<string, { values: BreakdownValue[]; otherCount: number }>;
  /** Up to `sampleSize` matching customers (one per breakdown group where there are enough), with `sampleColumns`. */
  sample: Row[];
}

export interface PreviewRequest {
  breakdown: string[];
  sampleSize: number;
  sampleColumns: string[];
  topValues: number;
}


/**
 * The preview's one statement, in the dialect of `params`: the count and every breakdown in ONE
 * scan (`GROUPING SETS`; a scan per breakdown where the dialect has none), the top values of each
 * breakdown, and one customer of every group (the dialect's cheapest "any value"): the sample. `where` is the condition's predicate over
 * the profile aliased `c`, compiled into the same `params`.
 */
export function previewQuery(where: string, request: Pick<PreviewRequest, 'breakdown' | 'topValues'>, params: AnySqlParams): string {
  const { dialect } = params;
  const top = params.add(request.topValues, 'INTEGER');
  const columns = request.breakdown.map((name) => `c.${dialect.quoteIdent(name)}`);
  const partition = columns.length > 0 ? `PARTITION BY ${columns.map((_, i) => `g${i}`).join(', ')}` : '';
  const count = dialect.cast('count(*)', 'BIGINT');
  const anyId = `${dialect.anyValue('c.customer_id')} AS any_id`;
  const from = `FROM ${dialect.quoteIdent(PROFILE_TABLE)} c WHERE ${where}`;
  let grouped: string;
  if (dialect.groupingSets) {
    const flags = columns.map((col, i) => `GROUPING(${col}) AS g${i}`);
    const keys = columns.map((col, i) => `${dialect.cast(col, 'VARCHAR')} AS k${i}`);
    const sets = ['()', ...columns.map((col) => `(${col})`)].join(', ');
    grouped = `SELECT ${[...flags, ...keys, `${count} AS n`, anyId].join(', ')} ${from} GROUP BY GROUPING SETS (${sets})`;
  } else {
    // The same rows as GROUPING SETS: flag 1 where a column is aggregated over, its key NULL.
    // `where` is repeated, its placeholders with it: the values are bound once.
    const branch = (grouping: number | undefined) => {
      const flags = columns.map((_, i) => `${i === grouping ? 0 : 1} AS g${i}`);
      const keys = columns.map((col, i) => `${dialect.cast(i === grouping ? col : 'NULL', 'VARCHAR')} AS k${i}`);
      const groupBy = grouping === undefined ? '' : ` GROUP BY ${columns[grouping]}`;
      return `SELECT ${[...flags, ...keys, `${count} AS n`, anyId].join(', ')} ${from}${groupBy}`;
    };
    grouped = [branch(undefined), ...columns.map((_, i) => branch(i))].join('\n        UNION ALL ');
  }
  // A ranked subquery rather than QUALIFY, which Postgres lacks; the groups are few, so it costs nothing.
  return `
    SELECT * FROM (
      SELECT grouped.*, row_number() OVER (${partition} ORDER BY n DESC${columns.map((_, i) => `, k${i}`).join('')}) AS top_rank
      FROM (
        ${grouped}
      ) grouped
    ) ranked
    WHERE top_rank <= ${top}`;
}

/** The count, the breakdowns and up to `sampleSize` customer ids of the sample from the rows of `previewQuery`. */
export function readPreviewRows(
  rows: ReadonlyArray<Record<string, unknown>>,
  request: Pick<PreviewRequest, 'breakdown' | 'sampleSize'>,
): Omit<PreviewCounts, 'sample'> & { sampleIds: number[] } {
  let count = 0;
  const sampleIds = new Set<number>();
  const breakdown: PreviewCounts['breakdown'] = {};
  for (const name of request.breakdown) breakdown[name] = { values: [], otherCount: 0 };
  for (const row of rows) {
    if (row.any_id !== null && row.any_id !== undefined && sampleIds.size < request.sampleSize) sampleIds.add(Number(row.any_id));
    const grouped = request.breakdown.findIndex((_, i) => Number(row[`g${i}`]) === 0);
    if (grouped === -1) {
      count = Number(row.n);
      continue;
    }
    const value = row[`k${grouped}`];
    breakdown[request.breakdown[grouped]!]!.values.push({ value: value === null ? null : String(value), count: Number(row.n) });
  }
  for (const entry of Object.values(breakdown)) {
    entry.otherCount = count - entry.values.reduce((sum, v) => sum + v.count, 0);
  }
  return { count, breakdown, sampleIds: [...sampleIds] };
}
