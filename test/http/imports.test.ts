import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { multipartBody } from '../helpers/multipart.js';

const PRODUCTS = 'product_id,name,category,monthly_fee\nP5G,5G升级包,5g,30.00\nPFAM,家庭套餐,family,88.00\n';

describe('imports over HTTP', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
    writeFileSync(path.join(ctx.dir, 'products.csv'), PRODUCTS);
    writeFileSync(path.join(ctx.dir, 'ragged.csv'), 'product_id,name,category,monthly_fee\nP1,a,b,1.00\nP2,a,b,1.00,extra\n');
  });
  afterAll(async () => ctx?.close());

  it('imports a server-side file and lists it in the history', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: ctx.auth('admin'),
      payload: { dataset: 'products', path: 'products.csv', format: 'csv', mode: 'replace' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ dataset: 'products', status: 'succeeded', rowsLoaded: 2, snapshotVersion: 1 });
    const history = await ctx.app.inject({ url: '/v1/imports?dataset=products', headers: ctx.auth('analyst') });
    expect(history.json().imports[0]).toMatchObject({ id: res.json().id, createdBy: expect.stringMatching(/^test-admin/) });
    const datasets = await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') });
    expect(datasets.json().datasets.find((d: { name: string }) => d.name === 'products')).toMatchObject({ rowCount: 2, snapshotVersion: 1 });
  });

  it('streams an uploaded file into the warehouse', async () => {
    const body = multipartBody({}, { filename: 'products.csv', content: PRODUCTS.replace('88.00', '99.00') });
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/imports/upload?dataset=products', headers: { ...ctx.auth('admin'), ...body.headers }, payload: body.payload });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ source: 'upload:products.csv', rowsLoaded: 2, snapshotVersion: 2 });
    const fee = await ctx.container.warehouse.query<{ fee: number }>(`SELECT monthly_fee AS fee FROM products WHERE product_id = 'PFAM'`);
    expect(fee[0]!.fee).toBe(99);
  });

  it('answers bad input with problem+json naming what is wrong', async () => {
    const post = (payload: unknown, role: 'admin' | 'analyst' = 'admin') =>
      ctx.app.inject({ method: 'POST', url: '/v1/imports', headers: { ...ctx.auth(role), 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

    const malformed = await post('{"dataset": "products",');
    expect(malformed.statusCode).toBe(400);
    expect(malformed.headers['content-type']).toContain('application/problem+json');

    const missingField = await post({ path: 'products.csv' });
    expect(missingField.statusCode).toBe(400);
    expect(missingField.json().errors[0].path).toBe('dataset');

    const outside = await post({ dataset: 'products', path: '../../../etc/passwd' });
    expect(outside.statusCode).toBe(403);
    expect(outside.json()).toMatchObject({ code: 'PATH_FORBIDDEN' });

    const ragged = await post({ dataset: 'products', path: 'ragged.csv' });
    expect(ragged.statusCode).toBe(422);
    expect(ragged.json().errors[0].path).toBe('file');

    const forbidden = await post({ dataset: 'products', path: 'products.csv' }, 'analyst');
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });

    const datasets = await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') });
    expect(datasets.json().datasets.find((d: { name: string }) => d.name === 'products')).toMatchObject({ rowCount: 2, snapshotVersion: 2 });
  });
});
