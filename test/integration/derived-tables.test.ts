import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { sqlType } from '../../src/catalog/catalog.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { createTestContext, deleteQueueKeys, type TestContext } from '../helpers/context.js';

describe('derived tables', () => {
  let dir: string | undefined;
  // The context is closed by hand mid-test (to reopen its warehouse file); only its folder is left.
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('are rebuilt at start when USAGE_WINDOW_MONTHS changed since they were built', async () => {
    const ctx: TestContext = await createTestContext({ USAGE_WINDOW_MONTHS: '6' });
    dir = ctx.dir;
    writeFileSync(
      path.join(ctx.dir, 'usage.csv'),
      'customer_id,month,arpu,mou,data_mb,sms_count\n1,2026-09-01,1,1,100,1\n1,2026-10-01,1,1,200,1\n',
    );
    await ctx.container.imports.importFile({ dataset: 'usage_monthly', path: 'usage.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
    const columns = async (c: Container) =>
      (
        await c.warehouse.query<{ name: string }>(
          `SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'customer_profile' AND column_name LIKE 'u_data_mb_m%' ORDER BY 1`,
        )
      ).map((r) => r.name);
    expect(await columns(ctx.container)).toEqual(['u_data_mb_m1', 'u_data_mb_m2', 'u_data_mb_m3', 'u_data_mb_m4', 'u_data_mb_m5', 'u_data_mb_m6']);

    // Reopen the same warehouse file with a shorter window: the profile follows the setting.
    await ctx.app.close();
    await ctx.container.close();
    const reopened = await createContainer({ ...ctx.config, USAGE_WINDOW_MONTHS: 2 }, createLogger('silent'));
    try {
      expect(await columns(reopened)).toEqual(['u_data_mb_m1', 'u_data_mb_m2']);
      const pivot = await reopened.warehouse.query('SELECT u_data_mb_m1, u_data_mb_m2 FROM usage_pivot WHERE customer_id = 1');
      expect(pivot).toEqual([{ u_data_mb_m1: 200, u_data_mb_m2: 100 }]);
    } finally {
      await deleteQueueKeys(reopened, ctx.config.QUEUE_PREFIX);
      await reopened.close();
    }
  });
});

describe('the customers view', () => {
  let dir: string | undefined;
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  const CUSTOMERS =
    'customer_id,msisdn,name,gender,age,city,county,grid_id,brand,plan_id,arpu,mou,data_mb,tenure_months,status,is_5g_device,vip_level,join_date\n' +
    '1,13800000001,张伟,M,34,广州,天河区,GZ-TH-001,gotone,P1,88.50,300,12000,40,active,true,2,2019-05-01\n' +
    '2,13800000002,李娜,F,29,深圳,南山区,SZ-NS-002,easyown,P2,45.00,120,3000,12,active,false,0,2023-01-15\n';
  const kindOf = async (c: Container, name: string) =>
    (await c.warehouse.query<{ t: string }>(`SELECT table_type AS t FROM information_schema.tables WHERE table_name = $1`, [name]))[0]?.t;
  const describe_ = async (c: Container, name: string) =>
    (await c.warehouse.query<{ column_name: string; column_type: string }>(`DESCRIBE ${name}`)).map((r) => `${r.column_name} ${r.column_type}`);

  it('is a view of the profile, whose columns are the catalog customer columns then the usage window', async () => {
    const ctx: TestContext = await createTestContext({ USAGE_WINDOW_MONTHS: '2' });
    try {
      expect(await kindOf(ctx.container, 'customers')).toBe('VIEW');
      expect(await kindOf(ctx.container, 'customer_profile')).toBe('BASE TABLE');
      const catalog = ctx.container.catalog.dataset('customers')!.columns.map((c) => `${c.name} ${sqlType(c.type)}`);
      const usage = ['arpu DECIMAL(10,2)', 'mou INTEGER', 'data_mb INTEGER', 'sms_count INTEGER'].flatMap((m) => {
        const [name, type] = m.split(' ');
        return [`u_${name}_m1 ${type}`, `u_${name}_m2 ${type}`];
      });
      expect(await describe_(ctx.container, 'customer_profile')).toEqual([...catalog, ...usage]);
      expect(await describe_(ctx.container, 'customers')).toEqual(catalog);
      // The same once usage is loaded (the profile then joins the pivot) and customers are re-imported.
      writeFileSync(path.join(ctx.dir, 'customers.csv'), CUSTOMERS);
      writeFileSync(path.join(ctx.dir, 'usage.csv'), 'customer_id,month,arpu,mou,data_mb,sms_count\n2,2026-10-01,1.5,1,700,1\n');
      await ctx.container.imports.importFile({ dataset: 'usage_monthly', path: 'usage.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
      await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
      expect(await describe_(ctx.container, 'customer_profile')).toEqual([...catalog, ...usage]);
      expect(await ctx.container.warehouse.query('SELECT customer_id, u_arpu_m1, u_data_mb_m1 FROM customer_profile ORDER BY 1')).toEqual([
        { customer_id: 1, u_arpu_m1: null, u_data_mb_m1: null },
        { customer_id: 2, u_arpu_m1: 1.5, u_data_mb_m1: 700 },
      ]);
    } finally {
      await ctx.close();
    }
  });

  it('replaces, at start, the customers table of an older warehouse, the profile rebuilt from that table', async () => {
    const ctx: TestContext = await createTestContext();
    dir = ctx.dir;
    writeFileSync(path.join(ctx.dir, 'customers.csv'), CUSTOMERS);
    writeFileSync(path.join(ctx.dir, 'usage.csv'), 'customer_id,month,arpu,mou,data_mb,sms_count\n2,2026-10-01,1,1,700,1\n');
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
    await ctx.container.imports.importFile({ dataset: 'usage_monthly', path: 'usage.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
    // The older layout: `customers` a table of its own (here holding a third customer the profile lacks).
    await ctx.container.warehouse.transaction(async (c) => {
      await c.run('CREATE TABLE customers_table AS SELECT * FROM customers');
      await c.run(`INSERT INTO customers_table (customer_id, msisdn, city) VALUES (3, '13800000003', '佛山')`);
      await c.run('DROP VIEW customers');
      await c.run('ALTER TABLE customers_table RENAME TO customers');
    });
    expect(await kindOf(ctx.container, 'customers')).toBe('BASE TABLE');
    await ctx.app.close();
    await ctx.container.close();

    const reopened = await createContainer(ctx.config, createLogger('silent'));
    try {
      expect(await kindOf(reopened, 'customers')).toBe('VIEW');
      const profile = await reopened.warehouse.query('SELECT customer_id, city, u_data_mb_m1, rowid AS r FROM customer_profile ORDER BY 1');
      expect(profile.map(({ r, ...rest }) => rest)).toEqual([
        { customer_id: 1, city: '广州', u_data_mb_m1: null },
        { customer_id: 2, city: '深圳', u_data_mb_m1: 700 },
        { customer_id: 3, city: '佛山', u_data_mb_m1: null },
      ]);
      expect(profile.map((p) => p.r).sort()).toEqual([0, 1, 2]);
      expect(await reopened.warehouse.query('SELECT customer_id, msisdn FROM customers ORDER BY 1')).toEqual([
        { customer_id: 1, msisdn: '13800000001' },
        { customer_id: 2, msisdn: '13800000002' },
        { customer_id: 3, msisdn: '13800000003' },
      ]);
      // And imports go on as usual: a usage import keeps the customers, a customers append adds to them.
      await reopened.imports.importFile({ dataset: 'usage_monthly', path: 'usage.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
      writeFileSync(path.join(ctx.dir, 'more.csv'), CUSTOMERS.replaceAll('\n1,1380000000', '\n4,1380000000').replace('\n2,13800000002', '\n5,13800000005'));
      await reopened.imports.importFile({ dataset: 'customers', path: 'more.csv', format: 'csv', mode: 'append' }, SYSTEM_ACTOR);
      const ids = await reopened.warehouse.query<{ customer_id: number; u: number | null }>(
        'SELECT customer_id, u_data_mb_m1 AS u FROM customer_profile ORDER BY 1',
      );
      expect(ids).toEqual([
        { customer_id: 1, u: null },
        { customer_id: 2, u: 700 },
        { customer_id: 3, u: null },
        { customer_id: 4, u: null },
        { customer_id: 5, u: null },
      ]);
      expect((await reopened.warehouse.query<{ n: number }>('SELECT row_count AS n FROM _snapshots WHERE dataset = $1', ['customers']))[0]!.n).toBe(5);
    } finally {
      await deleteQueueKeys(reopened, ctx.config.QUEUE_PREFIX);
      await reopened.close();
    }
  });
});
