import { listValue } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warehouse } from '../../src/warehouse/duckdb.js';
import { csvTextSql, maskedMsisdnSql, maskedNameSql } from '../../src/segments/segment.engine.js';
import { maskMsisdn, maskName } from '../../src/security/mask.js';

describe('CSV export expressions evaluated by DuckDB', () => {
  let warehouse: Warehouse;
  beforeAll(async () => {
    warehouse = await Warehouse.open({ path: ':memory:', memoryLimit: '256MB', threads: 1, readConnections: 1, queryTimeoutMs: 10_000 });
  });
  afterAll(async () => warehouse?.close());

  it('masks a number exactly as maskMsisdn does, for every length', async () => {
    const values = Array.from({ length: 16 }, (_, n) => '13812345678901234'.slice(0, n));
    const rows = await warehouse.query<{ v: string; masked: string }>(
      `SELECT v, ${maskedMsisdnSql('v')} AS masked FROM unnest(CAST($1 AS VARCHAR[])) AS t(v)`,
      [listValue(values)],
    );
    expect(rows.map((r) => r.masked)).toEqual(rows.map((r) => maskMsisdn(r.v)));
    expect(rows).toHaveLength(values.length);
  });

  it('masks a name exactly as maskName does', async () => {
    const values = ['', '王', '李白', '罗宏勇', '欧阳娜娜', '𠮷野家', 'Zhang San'];
    const rows = await warehouse.query<{ v: string; masked: string }>(
      `SELECT v, ${maskedNameSql('v')} AS masked FROM unnest(CAST($1 AS VARCHAR[])) AS t(v)`,
      [listValue(values)],
    );
    expect(rows.map((r) => r.masked)).toEqual(rows.map((r) => maskName(r.v)));
    expect(rows.find((r) => r.v === '罗宏勇')!.masked).toBe('罗**');
  });

  it('quotes what CSV must quote and turns would-be formulas into text', async () => {
    const cases: Array<[string, string]> = [
      ['陈霞', '陈霞'],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
      ['two\nlines', '"two\nlines"'],
      ['=SUM(A1)', "'=SUM(A1)"],
      ['+86', "'+86"],
      ['-1', "'-1"],
      ['@cmd', "'@cmd"],
      ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
      ['a=b', 'a=b'],
    ];
    const rows = await warehouse.query<{ v: string; field: string }>(
      `SELECT v, ${csvTextSql('v')} AS field FROM unnest(CAST($1 AS VARCHAR[])) WITH ORDINALITY AS t(v, i) ORDER BY i`,
      [listValue(cases.map(([v]) => v))],
    );
    expect(rows.map((r) => r.field)).toEqual(cases.map(([, expected]) => expected));
  });
});
