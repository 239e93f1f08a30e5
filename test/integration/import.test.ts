import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/http/errors.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const CUSTOMER_HEADER =
  'customer_id,msisdn,name,gender,age,city,county,grid_id,brand,plan_id,arpu,mou,data_mb,tenure_months,status,is_5g_device,vip_level,join_date';

/** Hand-written rows: ids 1..3, one with empty (null) age and gender. */
const CUSTOMERS = [
  CUSTOMER_HEADER,
  '1,13800000001,张伟,M,34,广州,天河区,GZ-TH-001,gotone,P1,88.50,300,12000,40,active,true,2,2019-05-01',
  '2,13800000002,李娜,,,"深圳",南山区,SZ-NS-002,easyown,P2,45.00,120,3000,12,active,false,0,2023-01-15',
  '3,13800000003,王芳,F,61,广州,越秀区,GZ-YX-003,mzone,P3,19.90,40,500,150,suspended,false,0,2010-11-20',
].join('\n');

const USAGE = [
  'customer_id,month,arpu,mou,data_mb,sms_count',
  '1,2026-08-01,80.00,280,11000,10',
  '1,2026-09-01,90.00,310,12500,12',
  '1,2026-10-01,95.00,320,13000,9',
  '2,2026-10-01,40.00,100,2500,3',
].join('\n');

describe('warehouse import', () => {
  let ctx: TestContext;
  const file = (name: string, content: string) => {
    const p = path.join(ctx.dir, name);
    writeFileSync(p, content);
    return name;
  };
  const importFile = (dataset: string, name: string, extra: { mode?: 'replace' | 'append'; format?: 'csv' | 'parquet' } = {}) =>
    ctx.container.imports.importFile({ dataset, path: name, format: extra.format ?? 'csv', mode: extra.mode ?? 'replace' }, SYSTEM_ACTOR);
  const rejection = async (promise: Promise<unknown>): Promise<AppError> => {
    try {
      await promise;
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      return error as AppError;
    }
    throw new Error('expected the import to be rejected');
  };
  const customerCount = async () => (await ctx.container.warehouse.query<{ n: number }>('SELECT count(*) AS n FROM customers'))[0]!.n;
  const version = async (dataset: string) =>
    (await ctx.container.warehouse.query<{ v: number }>('SELECT version AS v FROM _snapshots WHERE dataset = $1', [dataset]))[0]?.v ?? 0;

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  it('loads a valid CSV with typed columns, nulls for empty fields, and bumps the snapshot', async () => {
    const record = await importFile('customers', file('customers.csv', CUSTOMERS));
    expect(record).toMatchObject({ status: 'succeeded', rowsLoaded: 3, rowsRejected: 0, snapshotVersion: 1, createdBy: 'system' });
    const rows = await ctx.container.warehouse.query('SELECT customer_id, gender, age, arpu, is_5g_device, join_date FROM customers ORDER BY 1');
    expect(rows[1]).toMatchObject({ customer_id: 2, gender: null, age: null, arpu: 45, is_5g_device: false });
    expect(rows[0]!.join_date).toEqual(new Date('2019-05-01T00:00:00Z'));
    const stored = await ctx.container.db.selectFrom('imports').selectAll().where('id', '=', record.id).executeTakeFirstOrThrow();
    expect(stored.status).toBe('succeeded');
  });

  it('accepts columns in any order and pivots usage onto the customer profile', async () => {
    const header = 'month,customer_id,sms_count,data_mb,mou,arpu';
    const reordered = USAGE.split('\n')
      .slice(1)
      .map((line) => {
        const [id, month, arpu, mou, data, sms] = line.split(',');
        return [month, id, sms, data, mou, arpu].join(',');
      });
    await importFile('usage_monthly', file('usage.csv', [header, ...reordered].join('\n')));
    const profile = await ctx.container.warehouse.query(
      'SELECT customer_id, u_data_mb_m1, u_data_mb_m2, u_data_mb_m3, u_data_mb_m4 FROM customer_profile ORDER BY 1',
    );
    expect(profile).toEqual([
      { customer_id: 1, u_data_mb_m1: 13000, u_data_mb_m2: 12500, u_data_mb_m3: 11000, u_data_mb_m4: null },
      { customer_id: 2, u_data_mb_m1: 2500, u_data_mb_m2: null, u_data_mb_m3: null, u_data_mb_m4: null },
      { customer_id: 3, u_data_mb_m1: null, u_data_mb_m2: null, u_data_mb_m3: null, u_data_mb_m4: null },
    ]);
  });

  it('rejects missing, unknown and repeated columns by name and loads nothing', async () => {
    const before = await version('customers');
    const bad = CUSTOMERS.replace('customer_id,msisdn', 'customer_id,phone').replace('join_date', 'join_date,join_date');
    const error = await rejection(importFile('customers', file('bad-header.csv', bad)));
    expect(error.code).toBe('IMPORT_REJECTED');
    const messages = error.errors!.map((e) => `${e.path}: ${e.message}`);
    expect(messages).toContain('header, column 2: unknown column "phone"; customers has ' + CUSTOMER_HEADER.split(',').join(', '));
    expect(messages).toContain('header, column 19: column "join_date" appears twice');
    expect(messages).toContain('header: missing column "msisdn"');
    expect(await version('customers')).toBe(before);
  });

  it('names the row and column of every bad cell and loads nothing', async () => {
    const before = { rows: await customerCount(), version: await version('customers') };
    const lines = CUSTOMERS.split('\n');
    lines[2] = '2,1380000000X,李娜,X,abc,深圳,南山区,SZ-NS-002,easyown,P2,45.00,120,3000,12,active,maybe,9,2023-02-30';
    lines.push('1,13800000009,重复,M,20,广州,天河区,GZ-TH-001,gotone,P1,1,1,1,1,active,true,0,2020-01-01');
    const error = await rejection(importFile('customers', file('bad-cells.csv', lines.join('\n'))));
    const byPath = new Map(error.errors!.map((e) => [e.path, e.message]));
    expect(byPath.get('row 2, column msisdn')).toBe('"1380000000X" does not match the expected format');
    expect(byPath.get('row 2, column gender')).toBe('"X" is not one of M, F');
    expect(byPath.get('row 2, column age')).toBe('"abc" is not an integer');
    expect(byPath.get('row 2, column is_5g_device')).toBe('"maybe" is not a boolean (true/false)');
    expect(byPath.get('row 2, column vip_level')).toBe('"9" is above the maximum 5');
    expect(byPath.get('row 2, column join_date')).toBe('"2023-02-30" is not a date (YYYY-MM-DD)');
    expect(byPath.get('row 4, column customer_id')).toBe('duplicate key customer_id=1 (first on row 1)');
    expect(error.extra).toMatchObject({ rowsRejected: 2 });
    expect({ rows: await customerCount(), version: await version('customers') }).toEqual(before);
  });

  it('rejects, from CSV and Parquet, a row whose values type fine but break a rule, and loads nothing', async () => {
    const before = { rows: await customerCount(), version: await version('customers') };
    const lines = CUSTOMERS.split('\n');
    lines[3] = lines[3]!.replace(',F,61,', ',Q,61,');
    const csv = file('bad-rule.csv', lines.join('\n'));
    const parquet = path.join(ctx.dir, 'bad-rule.parquet');
    await ctx.container.warehouse.write((c) => c.run(`COPY (SELECT * FROM read_csv('${path.join(ctx.dir, csv)}', header = true)) TO '${parquet}' (FORMAT parquet)`));
    for (const [name, format] of [[csv, 'csv'], ['bad-rule.parquet', 'parquet']] as const) {
      const error = await rejection(importFile('customers', name, { format }));
      expect(error.errors).toEqual([{ path: 'row 3, column gender', message: '"Q" is not one of M, F' }]);
      expect(error.extra).toMatchObject({ rowsRejected: 1 });
    }
    expect({ rows: await customerCount(), version: await version('customers') }).toEqual(before);
  });

  it('rejects a file whose only fault is a repeated key, and loads nothing', async () => {
    const before = { rows: await customerCount(), version: await version('customers') };
    const twice = [...CUSTOMERS.split('\n'), CUSTOMERS.split('\n')[2]!.replace('李娜', '李娜二')].join('\n');
    const error = await rejection(importFile('customers', file('repeated-key.csv', twice)));
    expect(error.errors).toEqual([{ path: 'row 4, column customer_id', message: 'duplicate key customer_id=2 (first on row 2)' }]);
    // Sparse ids, and ids with a NULL among them: every way the key check may count.
    const withIds = (ids: string[]) =>
      [CUSTOMER_HEADER, ...ids.map((id, i) => CUSTOMERS.split('\n')[1 + (i % 3)]!.replace(/^1,|^2,|^3,/, `${id},`))].join('\n');
    const sparse = await rejection(importFile('customers', file('sparse.csv', withIds(['70', '5000', '123', '5000']))));
    expect(sparse.errors).toEqual([{ path: 'row 4, column customer_id', message: 'duplicate key customer_id=5000 (first on row 2)' }]);
    const wide = await rejection(importFile('customers', file('wide.csv', withIds(['-5', '4000000000000', '-5']))));
    expect(wide.errors).toEqual([{ path: 'row 3, column customer_id', message: 'duplicate key customer_id=-5 (first on row 1)' }]);
    expect({ rows: await customerCount(), version: await version('customers') }).toEqual(before);
  });

  it('rejects a usage file that repeats a (customer, month) key', async () => {
    const repeated = [...USAGE.split('\n'), '1,2026-09-01,1.00,1,1,1'].join('\n');
    const error = await rejection(importFile('usage_monthly', file('usage-repeated.csv', repeated)));
    expect(error.errors).toEqual([{ path: 'row 5, column customer_id, month', message: 'duplicate key customer_id=1, month=2026-09-01 (first on row 2)' }]);
  });

  it('rejects a usage month that is not the first of its month', async () => {
    const error = await rejection(importFile('usage_monthly', file('bad-month.csv', 'customer_id,month,arpu,mou,data_mb,sms_count\n1,2026-10-15,1,1,1,1')));
    expect(error.errors).toEqual([{ path: 'row 1, column month', message: '"2026-10-15" is not the first day of a month' }]);
  });

  it('appends new rows, and rejects an append that repeats a loaded key', async () => {
    const extra = [CUSTOMER_HEADER, '4,13800000004,赵敏,F,28,佛山,南海区,FS-NH-004,gotone,P1,60,10,10,5,active,true,1,2024-03-03'].join('\n');
    const appended = await importFile('customers', file('append.csv', extra), { mode: 'append' });
    expect(appended.rowsLoaded).toBe(1);
    expect(await customerCount()).toBe(4);
    const error = await rejection(importFile('customers', file('append-again.csv', extra), { mode: 'append' }));
    expect(error.errors).toEqual([{ path: 'row 1, column customer_id', message: 'key already loaded: customer_id=4' }]);
    expect(await customerCount()).toBe(4);
  });

  it('imports Parquet with the same validation', async () => {
    const parquet = path.join(ctx.dir, 'usage.parquet');
    const csv = path.join(ctx.dir, file('usage-for-parquet.csv', USAGE));
    await ctx.container.warehouse.write((c) =>
      c.run(`COPY (SELECT * FROM read_csv('${csv}', header = true, columns = {'customer_id':'BIGINT','month':'DATE','arpu':'DECIMAL(10,2)','mou':'INTEGER','data_mb':'INTEGER','sms_count':'INTEGER'})) TO '${parquet}' (FORMAT parquet)`),
    );
    const record = await importFile('usage_monthly', 'usage.parquet', { format: 'parquet' });
    expect(record.rowsLoaded).toBe(4);
    const notParquet = await rejection(importFile('usage_monthly', 'usage-for-parquet.csv', { format: 'parquet' }));
    expect(notParquet.code).toBe('IMPORT_REJECTED');
    expect(notParquet.errors![0]!.path).toBe('file');
  });

  it('refuses paths outside the import folder, missing files, empty files and header-only files', async () => {
    expect((await rejection(importFile('customers', '../../etc/passwd'))).code).toBe('PATH_FORBIDDEN');
    expect((await rejection(importFile('customers', '/etc/hostname'))).code).toBe('PATH_FORBIDDEN');
    expect((await rejection(importFile('customers', 'nope.csv'))).code).toBe('FILE_NOT_FOUND');
    expect((await rejection(importFile('customers', file('empty.csv', '')))).code).toBe('BAD_FILE');
    const headerOnly = await rejection(importFile('customers', file('header-only.csv', CUSTOMER_HEADER + '\n')));
    expect(headerOnly.errors).toEqual([{ path: 'file', message: 'no data rows after the header' }]);
    expect((await rejection(importFile('nonsense', file('x.csv', 'a\n1')))).errors![0]!.path).toBe('dataset');
  });

  it('keeps a running query on its snapshot while imports fail and succeed around it', async () => {
    const replacement = [CUSTOMER_HEADER, '9,13800000009,新客,M,30,广州,天河区,GZ-TH-001,gotone,P1,10,1,1,1,active,true,0,2025-01-01'].join('\n');
    const seen = await ctx.container.warehouse.read(async (c) => {
      const count = async () => Number((await c.runAndReadAll('SELECT count(*) AS n FROM customer_profile')).getRowObjectsJS()[0]!.n);
      await c.run('BEGIN TRANSACTION');
      const first = await count();
      await rejection(importFile('customers', file('fails.csv', replacement.replace('新客,M', '新客,Q'))));
      await importFile('customers', file('replace.csv', replacement));
      const second = await count();
      await c.run('COMMIT');
      return { first, second, after: await count() };
    });
    expect(seen).toEqual({ first: 4, second: 4, after: 1 });
  });
});
