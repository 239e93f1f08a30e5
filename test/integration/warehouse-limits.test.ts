import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/http/errors.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

// About 10^12 rows to hash: minutes of work on any machine, so only cancellation can end it.
const PATHOLOGICAL = 'SELECT sum(hash(i)) AS s FROM range(1000000000000) t(i)';

describe('DuckDB query timeout and concurrency cap', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    // One read connection makes the cap observable; a short default timeout makes waiting fail fast.
    ctx = await createTestContext({ DUCKDB_READ_CONNECTIONS: '1', QUERY_TIMEOUT_MS: '1500' });
  });
  afterAll(async () => ctx?.close());

  it('cancels a pathological query with QUERY_TIMEOUT and serves the next query on the same connection', async () => {
    const { warehouse } = ctx.container;
    const error = await warehouse.query(PATHOLOGICAL, [], { timeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('QUERY_TIMEOUT');
    expect((error as AppError).status).toBe(503);
    // The only read connection is free again and answers: the query was stopped, not abandoned.
    expect(await warehouse.query<{ n: number }>('SELECT 41 + 1 AS n')).toEqual([{ n: 42 }]);
    await warehouse.ping();
  });

  it('queues reads beyond the cap: the second starts only after the first releases its connection', async () => {
    const { warehouse } = ctx.container;
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = warehouse.read(async (c) => {
      events.push('first:start');
      await gate;
      await c.run('SELECT 1');
      events.push('first:end');
    });
    const second = warehouse.read(async (c) => {
      events.push('second:start');
      await c.run('SELECT 2');
      events.push('second:end');
    });
    // Let the event loop turn: the second read must still be waiting for the connection.
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['first:start']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['first:start', 'first:end', 'second:start', 'second:end']);
  });

  it('answers 503 BUSY over HTTP when every query slot stays taken, and recovers when it frees', async () => {
    const { warehouse } = ctx.container;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holder = warehouse.read(async () => gate, { timeoutMs: 60_000 });
    const busy = await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['content-type']).toContain('application/problem+json');
    expect(busy.json()).toMatchObject({ status: 503, code: 'BUSY' });
    release();
    await holder;
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') })).statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/ready' })).statusCode).toBe(200);
  });

  it('answers 503 QUERY_TIMEOUT over HTTP for a query cut off by the timeout, and stays healthy', async () => {
    // A route stands in for any endpoint whose query runs away: the limit is the warehouse's, not the route's.
    const { buildApp } = await import('../../src/app.js');
    const app = await buildApp(ctx.container, { logRequests: false });
    app.get('/v1/test-runaway', { config: { access: 'analyst' } }, async () => ctx.container.warehouse.query(PATHOLOGICAL, [], { timeoutMs: 200 }));
    await app.ready();
    try {
      const res = await app.inject({ url: '/v1/test-runaway', headers: ctx.auth('analyst') });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'QUERY_TIMEOUT', status: 503 });
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
