import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlType, type Column, type Dataset } from '../catalog/catalog.js';
import type { FieldProblem } from '../http/errors.js';
import { ident } from './duckdb.js';

/** How many problems an import reports in full; the rest are only counted. */
export const MAX_REPORTED_PROBLEMS = 100;

/** Where a problem is, in the words an analyst fixing the file understands. */
export function rowPath(row: number, column?: string): string {
  return column === undefined ? `row ${row}` : `row ${row}, column ${column}`;
}

/**
 * Compares a file's header with the catalog: every catalog column exactly once, nothing else.
 * Order does not matter.
 */
export function checkHeader(dataset: Dataset, header: readonly string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const expected = new Set(dataset.columns.map((c) => c.name));
  const seen = new Set<string>();
  header.forEach((raw, i) => {
    const name = raw.trim();
    const where = `header, column ${i + 1}`;
    if (name === '') problems.push({ path: where, message: 'empty column name' });
    else if (seen.has(name)) problems.push({ path: where, message: `column "${name}" appears twice` });
    else if (!expected.has(name)) {
      problems.push({ path: where, message: `unknown column "${name}"; ${dataset.name} has ${[...expected].join(', ')}` });
    }
    seen.add(name);
  });
  for (const column of dataset.columns) {
    if (!seen.has(column.name)) problems.push({ path: 'header', message: `missing column "${column.name}"` });
  }
  return problems;
}

/** A literal for SQL text; only ever used on catalog-defined strings (allowed values, patterns). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * One check over the staging table: rows where `failing` holds are rejected with `reason`
 * (an SQL string expression, so it can quote the offending value).
 */
interface ColumnCheck {
  column: string;
  failing: string;
  reason: string;
}

function checksFor(column: Column): ColumnCheck[] {
  const col = ident(column.name);
  const text = `CAST(${col} AS VARCHAR)`;
  const typed = `TRY_CAST(${col} AS ${sqlType(column.type)})`;
  const quoted = `'"' || left(${text}, 40) || '"'`;
  const checks: ColumnCheck[] = [];
  if (column.required) checks.push({ column: column.name, failing: `${col} IS NULL`, reason: `'a value is required'` });
  checks.push({
    column: column.name,
    failing: `${col} IS NOT NULL AND ${typed} IS NULL`,
    reason: `${quoted} || ' is not ${article(column.type)}'`,
  });
  if (column.values) {
    const allowed = column.values.map(literal).join(', ');
    checks.push({
      column: column.name,
      failing: `${col} IS NOT NULL AND ${text} NOT IN (${allowed})`,
      reason: `${quoted} || ' is not one of ${column.values.join(', ').replaceAll("'", "''")}'`,
    });
  }
  if (column.min !== undefined) {
    checks.push({ column: column.name, failing: `${typed} < ${column.min}`, reason: `${quoted} || ' is below the minimum ${column.min}'` });
  }
  if (column.max !== undefined) {
    checks.push({ column: column.name, failing: `${typed} > ${column.max}`, reason: `${quoted} || ' is above the maximum ${column.max}'` });
  }
  if (column.maxLength !== undefined) {
    checks.push({
      column: column.name,
      failing: `length(${text}) > ${column.maxLength}`,
      reason: `${quoted} || ' is longer than ${column.maxLength} characters'`,
    });
  }
  if (column.pattern !== undefined) {
    checks.push({
      column: column.name,
      failing: `${col} IS NOT NULL AND NOT regexp_full_match(${text}, ${literal(column.pattern)})`,
      reason: `${quoted} || ' does not match the expected format'`,
    });
  }
  if (column.firstOfMonth) {
    checks.push({
      column: column.name,
      failing: `${typed} IS NOT NULL AND day(${typed}) <> 1`,
      reason: `${quoted} || ' is not the first day of a month'`,
    });
  }
  return checks;
}

function article(type: Column['type']): string {
  switch (type) {
    case 'bigint':
    case 'integer':
      return 'an integer';
    case 'decimal':
      return 'a decimal number';
    case 'varchar':
      return 'text';
    case 'date':
      return 'a date (YYYY-MM-DD)';
    case 'boolean':
      return 'a boolean (true/false)';
  }
}

/**
 * One cheap pass deciding whether anything is wrong: every cell check OR-ed into one scan, keys by
 * one grouping. A clean file (the usual case) never pays for the detailed report below.
 */
export function anyRejectedSql(dataset: Dataset, staging: string, existing?: string): string {
  const failing = dataset.columns.flatMap(checksFor).map((check) => `(${check.failing})`);
  const tests = [`EXISTS (SELECT 1 FROM ${staging} WHERE ${failing.join(' OR ')})`];
  if (dataset.key.length > 0) {
    const keyCols = dataset.key.map(ident).join(', ');
    tests.push(`EXISTS (SELECT 1 FROM ${staging} GROUP BY ${keyCols} HAVING count(*) > 1)`);
    if (existing) tests.push(`EXISTS (SELECT 1 FROM ${staging} s WHERE ${existingKeyMatch(dataset, existing)})`);
  }
  return `SELECT ${tests.join(' OR ')} AS bad`;
}

function existingKeyMatch(dataset: Dataset, existing: string): string {
  const join = dataset.key
    .map((k) => `e.${ident(k)} = TRY_CAST(s.${ident(k)} AS ${sqlType(dataset.columns.find((c) => c.name === k)!.type)})`)
    .join(' AND ');
  return `EXISTS (SELECT 1 FROM ${existing} e WHERE ${join})`;
}

/**
 * One query listing every rejected cell of the staging table as `(_row, column, reason)`:
 * missing required values, type errors, disallowed codes, ranges, formats, duplicate keys
 * (within the file, and — when appending — against the rows already loaded).
 */
export function rejectedCellsSql(dataset: Dataset, staging: string, existing?: string): string {
  const parts = dataset.columns.flatMap(checksFor).map(
    (check) => `SELECT _row, ${literal(check.column)} AS "column", ${check.reason} AS reason FROM ${staging} WHERE ${check.failing}`,
  );
  if (dataset.key.length > 0) {
    const keyCols = dataset.key.map(ident).join(', ');
    const keyText = dataset.key.map((k) => `${literal(`${k}=`)} || coalesce(CAST(${ident(k)} AS VARCHAR), 'null')`).join(` || ', ' || `);
    const keyName = literal(dataset.key.join(', '));
    parts.push(`SELECT _row, ${keyName} AS "column", 'duplicate key ' || key_text || ' (first on row ' || first_row || ')' AS reason
      FROM (SELECT _row, ${keyText} AS key_text, min(_row) OVER (PARTITION BY ${keyCols}) AS first_row FROM ${staging})
      WHERE _row <> first_row`);
    if (existing) {
      const loadedKey = dataset.key.map((k) => `${literal(`${k}=`)} || CAST(s.${ident(k)} AS VARCHAR)`).join(` || ', ' || `);
      parts.push(`SELECT s._row, ${keyName} AS "column", 'key already loaded: ' || ${loadedKey} AS reason
        FROM ${staging} s WHERE ${existingKeyMatch(dataset, existing)}`);
    }
  }
  return parts.join('\nUNION ALL\n');
}

/** What the one-pass load stops with when a row fails a check (DuckDB's `error()`); the report is made afterwards. */
export const ROW_REJECTED = 'quanke: a row of the file failed validation';

/**
 * The rows of `source` (the file reader) typed in catalog column order, checked in the same pass:
 * the first row failing any cell check stops the statement with ROW_REJECTED. The check is a
 * filter, which the optimizer cannot drop the way it drops an unused column. Key duplicates need
 * all rows and are checked on the loaded table (hasRepeatedKey).
 */
export function checkedTypedSelectSql(dataset: Dataset, source: string): string {
  const failing = dataset.columns.flatMap(checksFor).map((check) => `(${check.failing})`);
  const columns = dataset.columns.map((c) => `CAST(${ident(c.name)} AS ${sqlType(c.type)}) AS ${ident(c.name)}`).join(', ');
  return `SELECT ${columns} FROM ${source}
    WHERE CASE WHEN ${failing.join(' OR ')} THEN error(${literal(ROW_REJECTED)}) ELSE true END`;
}

/** A key range up to this many values is checked with a bitmap of one bit per value (16 MiB at most). */
const MAX_BITMAP_RANGE = 2n ** 27n;

/**
 * A key column's value as a whole number keeping its order (months for a first-of-month date), for
 * the bitmap check; undefined for a type without one.
 */
function ordinalSql(column: Column, value: string): string | undefined {
  switch (column.type) {
    case 'bigint':
    case 'integer':
      return `CAST(${value} AS BIGINT)`;
    case 'date':
      return column.firstOfMonth ? `(year(${value}) * 12 + month(${value}) - 1)` : `datediff('day', DATE '1970-01-01', ${value})`;
    default:
      return undefined;
  }
}

/**
 * Whether `table` holds a key twice (NULL counting as one value, as GROUP BY groups it). A key of
 * integers and dates whose range of values is small enough (customer_id; customer_id × month) is
 * checked with a bitmap of that range: DuckDB's `bitstring_agg` took 0.1-0.17 s over 10M customers
 * where `count(DISTINCT)` took 2.3-3.7 s, and grouping 5M usage rows by (customer_id, month) inside
 * the import's transaction took 4 s at 1M. Other keys are counted distinct (one column) or grouped.
 */
export async function hasRepeatedKey(c: DuckDBConnection, dataset: Dataset, table: string): Promise<boolean> {
  if (dataset.key.length === 0) return false;
  const one = async (sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS()[0] ?? {};
  const columns = dataset.key.map((name) => dataset.columns.find((col) => col.name === name)!);
  const ordinals = columns.map((col) => ordinalSql(col, ident(col.name)));
  if (ordinals.every((o) => o !== undefined)) {
    // Counts, minima and maxima come from the row groups' statistics: no scan.
    const parts = columns.map((col, i) => {
      const name = ident(col.name);
      return `count(${name}) AS n${i}, CAST(${ordinalSql(col, `min(${name})`)} AS VARCHAR) AS lo${i}, CAST(${ordinalSql(col, `max(${name})`)} AS VARCHAR) AS hi${i}`;
    });
    const stats = await one(`SELECT count(*) AS n, ${parts.join(', ')} FROM ${table}`);
    const rows = BigInt(stats.n as bigint);
    const nonNull = columns.map((_, i) => BigInt(stats[`n${i}`] as bigint));
    const oneKey = columns.length === 1;
    // One NULL key is a value of its own; two are a repeat. NULLs in a composite key: grouped below.
    if (oneKey && rows - nonNull[0]! > 1n) return true;
    if (oneKey || nonNull.every((n) => n === rows)) {
      const keyed = nonNull[0]!;
      if (keyed <= 1n) return false;
      const lows = columns.map((_, i) => BigInt(String(stats[`lo${i}`])));
      const spans = columns.map((_, i) => BigInt(String(stats[`hi${i}`])) - lows[i]! + 1n);
      const range = spans.reduce((a, b) => a * b, 1n);
      if (range < keyed) return true;
      if (range <= MAX_BITMAP_RANGE) {
        let stride = 1n;
        const terms = ordinals.map((ordinal, i) => {
          const term = `(${ordinal} - (${lows[i]})) * ${stride}`;
          stride *= spans[i]!;
          return term;
        });
        const where = oneKey ? ` WHERE ${ident(columns[0]!.name)} IS NOT NULL` : '';
        const bits = await one(`SELECT bit_count(bitstring_agg(${terms.join(' + ')}, 0, ${range - 1n})) AS keys FROM ${table}${where}`);
        return BigInt(bits.keys as bigint) !== keyed;
      }
    }
  }
  if (columns.length === 1) {
    const key = ident(columns[0]!.name);
    const counted = await one(`SELECT count(DISTINCT ${key}) + CAST(count(*) FILTER (WHERE ${key} IS NULL) > 0 AS INTEGER) <> count(*) AS bad FROM ${table}`);
    return counted.bad === true;
  }
  const keyCols = dataset.key.map(ident).join(', ');
  return (await one(`SELECT EXISTS (SELECT 1 FROM ${table} GROUP BY ${keyCols} HAVING count(*) > 1) AS bad`)).bad === true;
}

/** The typed projection of the staging table in catalog column order. */
export function typedSelectSql(dataset: Dataset, staging: string): string {
  const columns = dataset.columns.map((c) => `CAST(${ident(c.name)} AS ${sqlType(c.type)}) AS ${ident(c.name)}`).join(', ');
  // File order is kept: sorting 10M wide rows costs more than zone maps save for hash joins.
  return `SELECT ${columns} FROM ${staging}`;
}
