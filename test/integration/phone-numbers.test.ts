import { mkdtempSync, rmSync, writeFileSync, createWriteStream, existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warehouse } from '../../src/warehouse/duckdb.js';
import { loadPhoneNumbers, normalisePhoneNumber, phoneNumberReportFor, type PhoneNumberReport } from '../../src/uploads/phone-numbers.js';
import { saveUpload } from '../../src/uploads/upload-file.js';

const PATTERN = '^1[3-9][0-9]{9}$';

describe('phone-number files', () => {
  let dir: string;
  let warehouse: Warehouse;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-pn-'));
    warehouse = await Warehouse.open({ path: path.join(dir, 'w.duckdb'), memoryLimit: '512MB', threads: 1, readConnections: 1, queryTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await warehouse?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function load(content: string | Buffer, table = 'pn_test'): Promise<{ report: PhoneNumberReport; numbers: string[] }> {
    const file = path.join(dir, `${table}.txt`);
    writeFileSync(file, content);
    return warehouse.write(async (c) => {
      const report = await loadPhoneNumbers(c, file, { pattern: PATTERN, table });
      const rows = (await c.runAndReadAll(`SELECT msisdn FROM ${table} ORDER BY msisdn`)).getRowObjectsJS();
      return { report, numbers: rows.map((r) => String(r.msisdn)) };
    });
  }

  it('normalises spaces, quotes and the +86 / 0086 / 86 prefix, and nothing else', () => {
    const re = new RegExp(PATTERN);
    expect(normalisePhoneNumber('  13800138000\t', re)).toBe('13800138000');
    expect(normalisePhoneNumber('\u3000"13800138000"', re)).toBe('13800138000');
    expect(normalisePhoneNumber('+8613800138000', re)).toBe('13800138000');
    expect(normalisePhoneNumber('+86 13800138000', re)).toBe('13800138000');
    expect(normalisePhoneNumber('008613800138000', re)).toBe('13800138000');
    expect(normalisePhoneNumber('8613800138000', re)).toBe('13800138000');
    expect(normalisePhoneNumber('138-0013-8000', re)).toBeUndefined();
    expect(normalisePhoneNumber('12800138000', re)).toBeUndefined();
    expect(normalisePhoneNumber('1380013800', re)).toBeUndefined();
    expect(normalisePhoneNumber('86', re)).toBeUndefined();
  });

  it('tolerates a BOM, CRLF, spaces and blank lines; counts duplicates; lists malformed lines by number', async () => {
    const lines = [
      '\uFEFF13800000001', // 1 BOM
      ' 13800000002 ', // 2
      '', // 3 blank
      '+8613800000003', // 4 → 13800000003
      'abc', // 5 malformed
      '   ', // 6 blank
      '13800000001', // 7 duplicate of line 1
      '8613800000002', // 8 duplicate of line 2 after normalisation
      '1380000000', // 9 malformed (10 digits)
      '13900000004', // 10
    ];
    const { report, numbers } = await load(lines.join('\r\n') + '\r\n');
    expect(report).toEqual({
      linesRead: 10,
      blankLines: 2,
      duplicates: 2,
      malformed: { count: 2, first: [{ line: 5, value: 'abc' }, { line: 9, value: '1380000000' }] },
      valid: 4,
    });
    expect(numbers).toEqual(['13800000001', '13800000002', '13800000003', '13900000004']);
  });

  it('counts a last line without a newline, and an empty file as nothing', async () => {
    expect((await load('13800000001\n13800000002', 'pn_last')).report).toMatchObject({ linesRead: 2, valid: 2 });
    expect(await load('', 'pn_empty')).toEqual({
      report: { linesRead: 0, blankLines: 0, duplicates: 0, malformed: { count: 0, first: [] }, valid: 0 },
      numbers: [],
    });
  });

  it('treats an endless line as one malformed line without buffering it, and quotes only its start', async () => {
    const long = '9'.repeat(3 * 1024 * 1024);
    const { report } = await load(`13800000001\n${long}\n13800000002\n`, 'pn_long');
    expect(report.linesRead).toBe(3);
    expect(report.valid).toBe(2);
    expect(report.malformed.count).toBe(1);
    expect(report.malformed.first[0]!.line).toBe(2);
    expect(report.malformed.first[0]!.value.length).toBeLessThanOrEqual(41);
  });

  it('refuses a UTF-16 file with a message saying what to do', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('13800000001\r\n', 'utf16le')]);
    await expect(load(utf16, 'pn_utf16')).rejects.toMatchObject({ code: 'BAD_FILE' });
  });

  it('masks phone-like digits in quoted malformed lines for non-admins only', () => {
    const report: PhoneNumberReport = {
      linesRead: 1,
      blankLines: 0,
      duplicates: 0,
      malformed: { count: 1, first: [{ line: 1, value: '138001380001 x' }] },
      valid: 0,
    };
    expect(phoneNumberReportFor('analyst', report).malformed.first[0]!.value).toBe('138*****0001 x');
    expect(phoneNumberReportFor('admin', report)).toEqual(report);
  });

  it('reads a large generated file with counts that match an independent tally', async () => {
    const file = path.join(dir, 'large.txt');
    const out = createWriteStream(file);
    const seen = new Set<string>();
    let blank = 0;
    let malformed = 0;
    let dups = 0;
    const total = 600_000;
    let buffer = '';
    for (let i = 1; i <= total; i++) {
      let line: string;
      if (i % 1000 === 0) {
        line = '';
        blank++;
      } else if (i % 777 === 0) {
        line = `x${i}`;
        malformed++;
      } else {
        const n = `13${String((i * 7919) % 400_000).padStart(9, '0')}`;
        line = i % 3 === 0 ? `+86${n}` : n;
        if (seen.has(n)) dups++;
        else seen.add(n);
      }
      buffer += `${line}${i % 2 ? '\r\n' : '\n'}`;
      if (buffer.length > 1 << 16) {
        if (!out.write(buffer)) await once(out, 'drain');
        buffer = '';
      }
    }
    out.end(buffer);
    await once(out, 'finish');

    const report = await warehouse.write((c) => loadPhoneNumbers(c, file, { pattern: PATTERN, table: 'pn_large' }));
    expect(report.linesRead).toBe(total);
    expect(report.blankLines).toBe(blank);
    expect(report.malformed.count).toBe(malformed);
    expect(report.malformed.first).toHaveLength(100);
    expect(report.malformed.first[0]).toEqual({ line: 777, value: 'x777' });
    expect(report.duplicates).toBe(dups);
    expect(report.valid).toBe(seen.size);
    const [row] = await warehouse.query<{ n: number }>('SELECT count(*) AS n FROM pn_large');
    expect(row!.n).toBe(seen.size);
  });

  it('saves an upload under the limit and refuses one over it with 413, leaving no file', async () => {
    const uploads = path.join(dir, 'uploads');
    const saved = await saveUpload(Readable.from([Buffer.from('13800000001\n'), Buffer.from('13800000002\n')]), { dir: uploads, maxBytes: 24 });
    expect(saved.bytes).toBe(24);
    expect(existsSync(saved.path)).toBe(true);
    await saved.remove();
    expect(existsSync(saved.path)).toBe(false);

    await expect(
      saveUpload(Readable.from([Buffer.alloc(20, 0x31), Buffer.alloc(20, 0x31)]), { dir: uploads, maxBytes: 30 }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
    const truncated = Object.assign(Readable.from([Buffer.from('1380')]), { truncated: true });
    await expect(saveUpload(truncated, { dir: uploads, maxBytes: 1000 })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(readdirSync(uploads)).toEqual([]);
  });
});
