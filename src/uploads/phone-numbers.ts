import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { AppError } from '../http/errors.js';
import { textFor } from '../security/mask.js';
import type { Role } from '../security/roles.js';
import { ident } from '../warehouse/duckdb.js';

/** A line that is not a phone number: its 1-based line number and (a prefix of) what it held. */
export interface MalformedLine {
  line: number;
  value: string;
}

/**
 * What an uploaded file of phone numbers held. Every line is counted exactly once:
 * `linesRead = blankLines + malformed.count + duplicates + valid`.
 */
export interface PhoneNumberReport {
  /** Lines in the file, blank ones included (a final newline does not start another line). */
  linesRead: number;
  /** Lines with nothing but whitespace: ignored, not malformed. */
  blankLines: number;
  /** Valid lines repeating a number seen on an earlier line (after normalisation). */
  duplicates: number;
  malformed: { count: number; first: MalformedLine[] };
  /** Distinct valid numbers: the rows left in the table. */
  valid: number;
}

export interface LoadPhoneNumbersOptions {
  /** `config.MSISDN_PATTERN`: what a normalised number must match. */
  pattern: string;
  /**
   * The table to (re)create with one column `msisdn VARCHAR`: a plain identifier, or one already
   * quoted by `ident()` / src/warehouse/tables.ts.
   */
  table: string;
  /** A TEMP table, private to the connection and gone when it closes. */
  temporary?: boolean;
}

/** How many malformed lines the report lists (all of them are counted). */
export const MALFORMED_LISTED = 100;
/** Longer lines are malformed without being buffered whole: a binary file must not fill memory. */
const MAX_LINE_BYTES = 1024;
/** How much of a malformed line the report quotes. */
const QUOTED_CHARS = 40;

const COUNTRY_PREFIX = /^(?:\+86|0086|86)[\s-]?/;

/**
 * Normalises one line to a phone number, or `undefined` when it is not one. Accepted, because
 * operators' exports routinely contain them: surrounding whitespace (ASCII, full-width, NBSP),
 * a UTF-8 BOM, one pair of surrounding double quotes (spreadsheet exports), and the country code
 * `+86` / `0086` / `86` in front of a number that is valid without it. Separators inside the
 * number (`138-0013-8000`) are not guessed at: such a line is reported as malformed.
 */
export function normalisePhoneNumber(raw: string, pattern: RegExp): string | undefined {
  let value = raw.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).trim();
  if (pattern.test(value)) return value;
  const withoutCountry = value.replace(COUNTRY_PREFIX, '');
  if (withoutCountry !== value && pattern.test(withoutCountry)) return withoutCountry;
  return undefined;
}

/**
 * A prefix of the line for the report, control characters spelled `\u0000`: the report is stored
 * in Postgres, which cannot hold NUL, and an invisible character is what its reader needs to see.
 */
function quote(line: string): string {
  const trimmed = line.trim();
  const prefix = trimmed.length > QUOTED_CHARS ? `${trimmed.slice(0, QUOTED_CHARS)}…` : trimmed;
  return prefix.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

async function refuseUtf16(filePath: string): Promise<void> {
  const handle = await open(filePath, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    if (bytesRead === 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
      throw new AppError('BAD_FILE', 'The file is UTF-16 (e.g. Excel "Unicode text"); save it as UTF-8 or plain text, one number per line');
    }
  } finally {
    await handle.close();
  }
}

/**
 * Reads a file of phone numbers (one per line) already on disk and leaves its distinct valid
 * numbers in `options.table` on `connection`, so the caller can join it inside its own write or
 * transaction. Streams the file in chunks: memory stays bounded whatever its size.
 *
 * The file is read here rather than by DuckDB's CSV reader because the report must name the line
 * of each malformed number, and a parallel CSV scan does not promise line order.
 */
export async function loadPhoneNumbers(
  connection: DuckDBConnection,
  filePath: string,
  options: LoadPhoneNumbersOptions,
): Promise<PhoneNumberReport> {
  const pattern = new RegExp(options.pattern);
  const table = /^"[a-z_][a-z0-9_]*"$/i.test(options.table) ? options.table : ident(options.table);
  await refuseUtf16(filePath);

  const stagingName = `_phone_numbers_${randomUUID().replaceAll('-', '')}`;
  await connection.run(`CREATE TEMP TABLE ${ident(stagingName)} (msisdn VARCHAR NOT NULL)`);
  try {
    const appender = await connection.createAppender(stagingName, 'main', 'temp');
    let linesRead = 0;
    let blankLines = 0;
    let validLines = 0;
    let malformedCount = 0;
    const malformedFirst: MalformedLine[] = [];

    const onLine = (text: string, overlong: boolean) => {
      linesRead++;
      if (!overlong && text.trim() === '') {
        blankLines++;
        return;
      }
      const msisdn = overlong ? undefined : normalisePhoneNumber(text, pattern);
      if (msisdn === undefined) {
        malformedCount++;
        if (malformedFirst.length < MALFORMED_LISTED) malformedFirst.push({ line: linesRead, value: quote(text) });
        return;
      }
      validLines++;
      appender.appendVarchar(msisdn);
      appender.endRow();
    };

    try {
      // A line is split across chunks at most once per chunk; `pending` holds its start (bounded).
      let pending: Buffer | undefined;
      let overlong = false;
      for await (const chunk of createReadStream(filePath, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        let start = 0;
        for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
          let piece = chunk.subarray(start, nl);
          if (pending) {
            piece = overlong ? pending : Buffer.concat([pending, piece]);
            pending = undefined;
          }
          const isOverlong = overlong || piece.length > MAX_LINE_BYTES;
          onLine(piece.subarray(0, Math.min(piece.length, MAX_LINE_BYTES)).toString('utf8'), isOverlong);
          overlong = false;
          start = nl + 1;
        }
        if (start < chunk.length) {
          const rest = chunk.subarray(start);
          if (overlong) continue;
          const joined = pending ? Buffer.concat([pending, rest]) : Buffer.from(rest);
          if (joined.length > MAX_LINE_BYTES) {
            pending = joined.subarray(0, MAX_LINE_BYTES);
            overlong = true;
          } else pending = joined;
        }
      }
      if (pending && pending.length > 0) onLine(pending.toString('utf8'), overlong);
    } finally {
      appender.closeSync();
    }

    await connection.run(
      `CREATE OR REPLACE ${options.temporary ? 'TEMP ' : ''}TABLE ${table} AS SELECT DISTINCT msisdn FROM ${ident(stagingName)}`,
    );
    const counted = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${table}`);
    const valid = Number(counted.getRowObjectsJS()[0]?.n ?? 0);
    return {
      linesRead,
      blankLines,
      duplicates: validLines - valid,
      malformed: { count: malformedCount, first: malformedFirst },
      valid,
    };
  } finally {
    await connection.run(`DROP TABLE IF EXISTS temp.main.${ident(stagingName)}`);
  }
}

/**
 * The report as a role may see it: for anyone but admins, numbers in the quoted malformed lines
 * are masked by their digits, whatever the separators (`138-0013-8002` is malformed precisely
 * because of them). The line numbers still locate them.
 */
export function phoneNumberReportFor(role: Role, report: PhoneNumberReport): PhoneNumberReport {
  return {
    ...report,
    malformed: { count: report.malformed.count, first: report.malformed.first.map((m) => ({ line: m.line, value: textFor(role, m.value) })) },
  };
}
