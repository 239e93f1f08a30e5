import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Column, Dataset } from '../catalog/catalog.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { ident, type Warehouse } from '../warehouse/duckdb.js';
import { MAX_REPORTED_PROBLEMS, rejectedCellsSql, rowPath } from '../warehouse/import.validate.js';

/** An orders file read and checked: how many rows, and where the clean copy for Postgres is. */
export interface CheckedConversionFile {
  rows: number;
  /** Headerless CSV: order_id, msisdn, customer_id, product_id, ordered_us (epoch µs), revenue. */
  path: string;
  remove(): Promise<void>;
}

/** Reads and checks an uploaded orders CSV; the conversion service receives one of these. */
export interface ConversionFileReader {
  check(filePath: string): Promise<CheckedConversionFile>;
}

/** The file's columns as the import machinery's checks know them; `ordered_at` is checked apart (a date-time). */
function conversionColumns(msisdnPattern: string): Column[] {
  return [
    { name: 'order_id', type: 'varchar', label: '订单号', required: true, maxLength: 64 },
    { name: 'msisdn', type: 'varchar', label: '手机号', pattern: msisdnPattern },
    { name: 'customer_id', type: 'bigint', label: '客户编号', min: 1 },
    { name: 'product_id', type: 'varchar', label: '产品编号', required: true, maxLength: 64 },
    { name: 'revenue', type: 'decimal', label: '收入', min: 0 },
  ];
}

const REQUIRED = ['order_id', 'product_id', 'ordered_at'] as const;
const KNOWN = ['order_id', 'msisdn', 'customer_id', 'product_id', 'ordered_at', 'revenue'];

// The same fixed dialect as imports: a file that is not this CSV fails loudly.
const CSV_OPTIONS = `header = true, delim = ',', quote = '"', escape = '"', all_varchar = true`;

/** A time with a zone (`Z`, `+08`, `+08:00`) is taken as written; a local one in the business time zone. */
const HAS_ZONE = `[T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*(Z|[+-]\\d{2}(:?\\d{2})?)$`;

/**
 * Orders files through DuckDB's CSV reader and the import's cell checks (same messages, rows and
 * columns named the same way), plus what only orders need: a date-time, and a number or a customer
 * id on every row. A file with any problem is refused whole (IMPORT_REJECTED naming row and
 * column); a clean one is written out typed for Postgres' COPY.
 */
export class WarehouseConversionFileReader implements ConversionFileReader {
  constructor(
    private readonly deps: { warehouse: Warehouse; msisdnPattern: string; timeZone: string; scratchDir: string },
  ) {}

  async check(filePath: string): Promise<CheckedConversionFile> {
    const header = await readHeader(filePath);
    const headerProblems = checkConversionHeader(header);
    if (headerProblems.length > 0) throw rejected('the columns do not fit', headerProblems, 0);
    await fs.mkdir(this.deps.scratchDir, { recursive: true });
    const out = path.join(this.deps.scratchDir, `conversions-${randomUUID()}.csv`);
    const staging = ident(`_conversions_${randomUUID().replaceAll('-', '')}`);
    try {
      const rows = await this.deps.warehouse.write((c) => this.stage(c, filePath, staging, header, out));
      return { rows, path: out, remove: () => fs.rm(out, { force: true }) };
    } catch (error) {
      await fs.rm(out, { force: true });
      throw error;
    }
  }

  private async stage(c: DuckDBConnection, file: string, staging: string, header: string[], out: string): Promise<number> {
    try {
      try {
        await c.run(`CREATE TEMP TABLE ${staging} AS SELECT row_number() OVER () AS _row, * FROM read_csv($1, ${CSV_OPTIONS})`, [file]);
      } catch (error) {
        throw rejected('the file cannot be read', [{ path: 'file', message: String((error as Error).message).split('\n')[0]!.slice(0, 500) }], 0);
      }
      const rows = Number((await c.runAndReadAll(`SELECT count(*) AS n FROM ${staging}`)).getRowObjectsJS()[0]?.n ?? 0);
      if (rows === 0) throw rejected('the file has no data rows', [{ path: 'file', message: 'no data rows after the header' }], 0);

      const present = new Set(header);
      const columns = conversionColumns(this.deps.msisdnPattern).filter((col) => present.has(col.name));
      const dataset = { name: 'conversions', label: '订单', key: [], columns } as unknown as Dataset;
      const orderedAt = this.orderedAtSql('ordered_at');
      const who =
        present.has('msisdn') && present.has('customer_id')
          ? `SELECT _row, 'msisdn' AS "column", 'give msisdn or customer_id' AS reason FROM ${staging} WHERE msisdn IS NULL AND customer_id IS NULL`
          : present.has('msisdn')
            ? `SELECT _row, 'msisdn', 'a value is required' FROM ${staging} WHERE msisdn IS NULL`
            : `SELECT _row, 'customer_id', 'a value is required' FROM ${staging} WHERE customer_id IS NULL`;
      const problemsSql = [
        rejectedCellsSql(dataset, staging),
        `SELECT _row, 'ordered_at', 'a value is required' FROM ${staging} WHERE ordered_at IS NULL`,
        `SELECT _row, 'ordered_at', '"' || left(ordered_at, 40) || '" is not a date-time (YYYY-MM-DD HH:MM:SS, optionally with a zone)'
         FROM ${staging} WHERE ordered_at IS NOT NULL AND ${orderedAt} IS NULL`,
        who,
      ].join('\nUNION ALL\n');
      const found = await c.runAndReadAll(
        `SELECT _row, "column", reason, count(DISTINCT _row) OVER () AS bad_rows FROM (${problemsSql})
         ORDER BY _row, "column" LIMIT ${MAX_REPORTED_PROBLEMS}`,
      );
      const problems = found.getRowObjectsJS();
      if (problems.length > 0) {
        const badRows = Number(problems[0]!.bad_rows);
        throw rejected(
          `${badRows} of ${rows} rows are not valid`,
          problems.map((p) => ({ path: rowPath(Number(p._row), String(p.column)), message: String(p.reason) })),
          badRows,
        );
      }
      const column = (name: string, cast: string) => (present.has(name) ? `CAST(${ident(name)} AS ${cast})` : `NULL::${cast}`);
      await c.run(
        `COPY (SELECT order_id, ${column('msisdn', 'VARCHAR')}, ${column('customer_id', 'BIGINT')}, product_id,
                 epoch_us(${orderedAt}), ${column('revenue', 'DECIMAL(14,2)')}
               FROM ${staging} ORDER BY _row)
         TO '${out.replaceAll("'", "''")}' (FORMAT csv, HEADER false)`,
      );
      return rows;
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${staging}`).catch(() => undefined);
    }
  }

  private orderedAtSql(column: string): string {
    const v = ident(column);
    const zone = this.deps.timeZone.replaceAll("'", "''");
    return `(CASE WHEN regexp_matches(${v}, '${HAS_ZONE}') THEN TRY_CAST(${v} AS TIMESTAMPTZ)
      ELSE timezone('${zone}', TRY_CAST(${v} AS TIMESTAMP)) END)`;
  }
}

/** Every required column once, a number or a customer id (or both), nothing unknown; order free. */
export function checkConversionHeader(header: readonly string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  header.forEach((name, i) => {
    const where = `header, column ${i + 1}`;
    if (name === '') problems.push({ path: where, message: 'empty column name' });
    else if (seen.has(name)) problems.push({ path: where, message: `column "${name}" appears twice` });
    else if (!KNOWN.includes(name)) problems.push({ path: where, message: `unknown column "${name}"; orders have ${KNOWN.join(', ')}` });
    seen.add(name);
  });
  for (const name of REQUIRED) if (!seen.has(name)) problems.push({ path: 'header', message: `missing column "${name}"` });
  if (!seen.has('msisdn') && !seen.has('customer_id')) problems.push({ path: 'header', message: 'missing column "msisdn" or "customer_id"' });
  return problems;
}

function rejected(summary: string, problems: FieldProblem[], rowsRejected: number): AppError {
  return new AppError('IMPORT_REJECTED', `conversions: ${summary}; nothing was loaded`, problems, { rowsRejected });
}

/** The header as written (the first line split on commas, quotes dropped), like the import reads it. */
async function readHeader(file: string): Promise<string[]> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead === 0) throw new AppError('BAD_FILE', 'The file is empty', [{ path: 'file', message: 'empty file' }]);
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    const end = text.search(/\r?\n/);
    const line = end === -1 ? text : text.slice(0, end);
    return line.split(',').map((name) => name.trim().replace(/^"(.*)"$/, '$1'));
  } finally {
    await handle.close();
  }
}
