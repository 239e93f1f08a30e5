import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

const HEADER = 'product_id,name,category,monthly_fee\n';

/** Imports may read only inside IMPORT_DIR: whatever the name says, and whatever it resolves to. */
describe('import confinement to IMPORT_DIR', () => {
  let ctx: TestContext;
  let outside: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    outside = mkdtempSync(path.join(os.tmpdir(), 'quanke-outside-'));
    writeFileSync(path.join(outside, 'secret.csv'), `${HEADER}SECRET,outside the folder,x,1.00\n`);
    writeFileSync(path.join(ctx.dir, 'products.csv'), `${HEADER}PIN,inside,x,1.00\n`);
    // A file whose literal name is a pattern: the old check found it, DuckDB then expanded it.
    writeFileSync(path.join(ctx.dir, 'p*.csv'), `${HEADER}PSTAR,inside,x,1.00\n`);
    symlinkSync(path.join(outside, 'secret.csv'), path.join(ctx.dir, 'plink.csv'));
    symlinkSync(outside, path.join(ctx.dir, 'elsewhere'));
    mkdirSync(path.join(ctx.dir, 'sub'));
    symlinkSync(path.join(ctx.dir, 'products.csv'), path.join(ctx.dir, 'sub', 'same.csv'));
  });
  afterAll(async () => {
    await ctx?.close();
    rmSync(outside, { recursive: true, force: true });
  });

  const importPath = (p: string) =>
    ctx.app.inject({ method: 'POST', url: '/v1/imports', headers: ctx.auth('admin'), payload: { dataset: 'products', path: p, format: 'csv', mode: 'replace' } });
  const productIds = async () => (await ctx.container.warehouse.query<{ id: string }>('SELECT product_id AS id FROM products ORDER BY 1')).map((r) => r.id);

  it('refuses pattern characters in the path, naming `path`, and reads nothing', async () => {
    expect((await importPath('products.csv')).statusCode).toBe(201);
    for (const name of ['p*.csv', 'p?link.csv', '[p]link.csv', 'p{link,x}.csv', '*/secret.csv', '**/*.csv']) {
      const res = await importPath(name);
      expect(res.statusCode, name).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().errors, name).toEqual([{ path: 'path', message: expect.stringContaining('pattern character') }]);
    }
    expect(await productIds()).toEqual(['PIN']);
  });

  it('checks where a symbolic link leads: outside is 403 PATH_FORBIDDEN, inside is read', async () => {
    for (const name of ['plink.csv', 'elsewhere/secret.csv', './sub/../plink.csv']) {
      const res = await importPath(name);
      expect(res.statusCode, name).toBe(403);
      expect(res.json(), name).toMatchObject({ code: 'PATH_FORBIDDEN', errors: [{ path: 'path' }] });
    }
    expect(await productIds()).toEqual(['PIN']);

    const inside = await importPath('sub/same.csv');
    expect(inside.statusCode).toBe(201);
    expect(inside.json()).toMatchObject({ rowsLoaded: 1, source: 'sub/same.csv' });
  });
});
