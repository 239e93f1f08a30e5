import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

describe('foundation HTTP surface', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  it('answers liveness and readiness with every dependency checked', async () => {
    expect((await ctx.app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    const body = ready.json();
    expect(body.status).toBe('ready');
    expect(Object.keys(body.dependencies).sort()).toEqual(['duckdb', 'postgres', 'queues', 'redis']);
  });

  it('lists the catalog with Chinese labels, empty counts and version 0 before any import', async () => {
    const res = await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') });
    expect(res.statusCode).toBe(200);
    const datasets = res.json().datasets as Array<{ name: string; rowCount: number; snapshotVersion: number; columns: Array<{ name: string; label: string }> }>;
    expect(datasets.map((d) => d.name)).toEqual(['customers', 'usage_monthly', 'subscriptions', 'tags', 'products', 'grids']);
    const customers = datasets[0]!;
    expect(customers.rowCount).toBe(0);
    expect(customers.snapshotVersion).toBe(0);
    expect(customers.columns.find((c) => c.name === 'arpu')?.label).toBe('月均收入(元)');
  });

  it('answers problem+json: 401 without a key, 404 for an unknown route', async () => {
    const noKey = await ctx.app.inject({ url: '/v1/datasets' });
    expect(noKey.statusCode).toBe(401);
    expect(noKey.headers['content-type']).toContain('application/problem+json');
    expect(noKey.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    const missing = await ctx.app.inject({ url: '/v1/nothing-here', headers: ctx.auth('admin') });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('serves the OpenAPI document at /docs', async () => {
    const res = await ctx.app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().paths).toHaveProperty('/v1/datasets');
  });
});
