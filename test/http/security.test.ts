import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin } from '../../src/http/plugins/auth.js';
import { createApiKey, hashKey } from '../../src/security/keys.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

type Role = 'analyst' | 'operator' | 'scheduler' | 'admin';
type AccessClass = Role | 'public';

/** Written out by hand from issue 8, not derived from roles.ts: which route classes each role may call. */
const MAY_CALL: Record<Role, AccessClass[]> = {
  analyst: ['public', 'analyst'],
  operator: ['public', 'analyst', 'operator'],
  scheduler: ['public', 'analyst', 'scheduler'],
  admin: ['public', 'analyst', 'operator', 'scheduler', 'admin'],
};

/** A concrete URL for a route pattern: params and wildcards filled with harmless values. */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, (param) => (/id$/i.test(param) ? randomUUID() : `x${randomUUID().slice(0, 8)}`)).replace(/\*$/, 'nothing-here');
}

describe('authentication and roles on every route', () => {
  let ctx: TestContext;
  const extra: Record<string, string> = {};

  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '1000000', AUTH_FAILURES_PER_MINUTE: '1000000' });
    const db = ctx.container.db;
    const revoked = await createApiKey(db, { name: `revoked-${randomUUID().slice(0, 6)}`, role: 'admin', createdBy: 'test' });
    await db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', revoked.id).execute();
    const expired = await createApiKey(db, { name: `expired-${randomUUID().slice(0, 6)}`, role: 'admin', createdBy: 'test' });
    await db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();
    extra.revoked = revoked.key;
    extra.expired = expired.key;
    extra.unknown = `qk_00000000_${'A'.repeat(43)}`;
  });
  afterAll(async () => ctx?.close());

  it('refuses to start when a route declares no access', async () => {
    const app = Fastify({ logger: false });
    await app.register(authPlugin, { db: ctx.container.db });
    await expect(
      app.register(async (scope) => {
        scope.get('/v1/forgotten', async () => ({ ok: true }));
      }),
    ).rejects.toThrow(/declares no config.access/);
    await app.close().catch(() => undefined);
  });

  it('walks the route table: every route has an access class, and only probes, docs and token-guarded gateway callbacks are public', () => {
    const table = ctx.app.routeAccess;
    expect(table.length).toBeGreaterThan(10);
    for (const route of table) {
      expect(['public', 'analyst', 'operator', 'scheduler', 'admin'], `${route.method} ${route.url}`).toContain(route.access);
    }
    const publicRoutes = table.filter((r) => r.access === 'public').map((r) => r.url);
    // Kannel and MM7 MMSCs call their callbacks without a key; a per-gateway token guards them
    // (test/integration/kannel-gateway.test.ts, test/integration/mms-campaign.test.ts).
    for (const url of publicRoutes) expect(url, 'a public route').toMatch(/^(\/health|\/ready|\/docs(\/.*)?|\/v1\/feedback\/kannel(\/mo)?|\/v1\/feedback\/mm7)$/);
    for (const route of table.filter((r) => r.url.startsWith('/v1/keys') || r.url.startsWith('/v1/audit') || r.url.startsWith('/admin/queues'))) {
      expect(route.access, `${route.method} ${route.url}`).toBe('admin');
    }
    expect(table.find((r) => r.url === '/metrics')?.access).toBe('admin');
  });

  it('answers each role per route class: allowed, or 403; and 401 without a working key', async () => {
    const routes = ctx.app.routeAccess.filter((r) => r.method !== 'HEAD' && r.access !== 'public');
    const failures: string[] = [];
    for (const route of routes) {
      const url = concrete(route.url);
      const method = route.method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
      const payload = ['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined;
      for (const role of ['analyst', 'operator', 'scheduler', 'admin'] as const) {
        const res = await ctx.app.inject({ method, url, headers: ctx.auth(role), payload });
        const allowed = MAY_CALL[role].includes(route.access);
        if (allowed && (res.statusCode === 401 || res.statusCode === 403)) failures.push(`${role} ${method} ${url}: ${res.statusCode}, expected to pass auth`);
        // Junk ids and empty bodies must be refused as the client's mistake, never crash a handler.
        if (allowed && res.statusCode >= 500) failures.push(`${role} ${method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        if (!allowed && res.statusCode !== 403) failures.push(`${role} ${method} ${url}: ${res.statusCode}, expected 403`);
        if (!allowed && res.statusCode === 403) expect(res.json().code).toBe('FORBIDDEN');
      }
      const anonymousUrl = route.url === '/metrics' ? undefined : url;
      const cases: Array<[string, Record<string, string>]> = [
        ['no key', {}],
        ['revoked key', { authorization: `Bearer ${extra.revoked}` }],
        ['expired key', { authorization: `Bearer ${extra.expired}` }],
        ['unknown key', { authorization: `Bearer ${extra.unknown}` }],
        ['malformed header', { authorization: 'Token abc' }],
      ];
      for (const [label, headers] of cases) {
        // /metrics without a key is open to loopback only; from elsewhere it is an admin route.
        const res = await ctx.app.inject({ method, url: anonymousUrl ?? url, headers, payload, remoteAddress: '10.9.8.7' });
        if (res.statusCode !== 401) failures.push(`${label} ${method} ${url}: ${res.statusCode}, expected 401`);
        else expect(res.headers['content-type']).toContain('application/problem+json');
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers 401 identically for unknown, revoked and expired keys', async () => {
    const bodies = await Promise.all(
      [extra.unknown, extra.revoked, extra.expired].map(async (key) => (await ctx.app.inject({ url: '/v1/keys', headers: { authorization: `Bearer ${key}` } })).json()),
    );
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual(bodies[0]);
  });

  it('says nothing in a 403 about whether the object exists', async () => {
    const existing = await createApiKey(ctx.container.db, { name: `victim-${randomUUID().slice(0, 6)}`, role: 'analyst', createdBy: 'test' });
    const onExisting = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${existing.id}`, headers: ctx.auth('operator') });
    const onMissing = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${randomUUID()}`, headers: ctx.auth('operator') });
    expect(onExisting.statusCode).toBe(403);
    expect(onExisting.json()).toEqual(onMissing.json());
    expect(onExisting.body).not.toContain(existing.id);
    const still = await ctx.container.db.selectFrom('api_keys').select('revoked_at').where('id', '=', existing.id).executeTakeFirstOrThrow();
    expect(still.revoked_at).toBeNull();
  });

  it('stamps last_used_at at most once a minute per key', async () => {
    const key = await createApiKey(ctx.container.db, { name: `stamp-${randomUUID().slice(0, 6)}`, role: 'analyst', createdBy: 'test' });
    const lastUsed = async () =>
      (await ctx.container.db.selectFrom('api_keys').select('last_used_at').where('id', '=', key.id).executeTakeFirstOrThrow()).last_used_at;
    expect(await lastUsed()).toBeNull();
    const headers = { authorization: `Bearer ${key.key}` };
    await ctx.app.inject({ url: '/v1/datasets', headers });
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    for (let i = 0; i < 5; i++) await ctx.app.inject({ url: '/v1/datasets', headers });
    expect((await lastUsed())?.getTime()).toBe(first!.getTime());
    // Once the stamp is older than a minute, the next request refreshes it.
    const old = new Date(Date.now() - 5 * 60_000);
    await ctx.container.db.updateTable('api_keys').set({ last_used_at: old }).where('id', '=', key.id).execute();
    await ctx.app.inject({ url: '/v1/datasets', headers });
    expect((await lastUsed())!.getTime()).toBeGreaterThan(old.getTime());
  });
});

describe('abuse limits, headers and operations endpoints', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '1000000' });
  });
  afterAll(async () => ctx?.close());

  const healthy = async () => {
    const ready = await ctx.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') })).statusCode).toBe(200);
  };

  it('rejects an oversized body with 413 problem+json quickly, and stays healthy', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(ctx.config.BODY_LIMIT_BYTES + 10), role: 'analyst' });
    const started = performance.now();
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { ...ctx.auth('admin'), 'content-type': 'application/json' }, payload: big });
    const elapsed = performance.now() - started;
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
    expect(elapsed).toBeLessThan(1000);
    await healthy();
  });

  it('rejects deeply nested JSON with 400 in well under a second, and stays healthy', async () => {
    // Just under the 1 MB body limit: ~500k levels of nesting.
    const depth = Math.floor((ctx.config.BODY_LIMIT_BYTES - 100) / 2);
    const body = `{"name":"deep","role":"analyst","x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const started = performance.now();
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: { ...ctx.auth('admin'), 'content-type': 'application/json' }, payload: body });
    const elapsed = performance.now() - started;
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('VALIDATION');
    expect(res.json().detail).toMatch(/nests deeper than/);
    expect(elapsed).toBeLessThan(1000);
    // The JSON parser in front of the depth check still refuses prototype poisoning.
    const poisoned = await ctx.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { ...ctx.auth('admin'), 'content-type': 'application/json' },
      payload: '{"name":"p","role":"analyst","__proto__":{"role":"admin"}}',
    });
    expect(poisoned.statusCode).toBe(400);
    await healthy();
  });

  it('sends security headers, and Swagger UI still loads every script and style it names', async () => {
    const page = await ctx.app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(page.headers['access-control-allow-origin']).toBeUndefined();
    // With script-src 'self', an inline script would be blocked: every script must come from a URL.
    const scripts = [...page.body.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const attrs of scripts) expect(attrs).toMatch(/src="/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !/^https?:/.test(u));
    for (const asset of assets) {
      const res = await ctx.app.inject({ url: new URL(asset, 'http://x/docs/').pathname });
      expect(res.statusCode, asset).toBe(200);
    }
    expect((await ctx.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
  });

  it('echoes a sane x-request-id and replaces an unsafe one', async () => {
    const given = `req-${randomUUID()}`;
    const res = await ctx.app.inject({ url: '/health', headers: { 'x-request-id': given } });
    expect(res.headers['x-request-id']).toBe(given);
    const unsafe = await ctx.app.inject({ url: '/health', headers: { 'x-request-id': 'a b\n{"forged":true}' } });
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const none = await ctx.app.inject({ url: '/health' });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves /metrics to loopback without a key, elsewhere to admins only', async () => {
    await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('analyst') });
    const local = await ctx.app.inject({ url: '/metrics' });
    expect(local.statusCode).toBe(200);
    expect(local.headers['content-type']).toContain('text/plain');
    const text = local.body;
    expect(text).toMatch(/quanke_http_request_duration_seconds_count\{[^}]*route="\/v1\/datasets"[^}]*\} [1-9]/);
    expect(text).toMatch(/quanke_duckdb_query_seconds_count\{kind="read",outcome="ok"\} [1-9]/);
    expect(text).toMatch(/quanke_queue_jobs\{queue="maintenance",state="waiting"\} 0/);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    const remote = { remoteAddress: '192.0.2.10' };
    expect((await ctx.app.inject({ url: '/metrics', ...remote })).statusCode).toBe(401);
    expect((await ctx.app.inject({ url: '/metrics', headers: ctx.auth('analyst'), ...remote })).statusCode).toBe(403);
    expect((await ctx.app.inject({ url: '/metrics', headers: ctx.auth('admin'), ...remote })).statusCode).toBe(200);
  });

  it('labels unknown URLs as unmatched so probing cannot multiply metric series', async () => {
    const probe = `/v1/probe-${randomUUID()}`;
    await ctx.app.inject({ url: probe, headers: ctx.auth('admin') });
    const text = (await ctx.app.inject({ url: '/metrics' })).body;
    expect(text).not.toContain(probe);
    expect(text).toMatch(/route="unmatched",status="404"/);
  });

  it('serves the queue dashboard to admins (Bearer or Basic), asks browsers for the key, refuses others', async () => {
    const adminKey = ctx.auth('admin').authorization.slice('Bearer '.length);
    const anonymous = await ctx.app.inject({ url: '/admin/queues' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic /);
    expect((await ctx.app.inject({ url: '/admin/queues', headers: ctx.auth('operator') })).statusCode).toBe(403);
    const basic = { authorization: `Basic ${Buffer.from(`admin:${adminKey}`).toString('base64')}` };
    const page = await ctx.app.inject({ url: '/admin/queues', headers: basic });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>Quanke queues</title>');
    for (const asset of [...page.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!)) {
      const res = await ctx.app.inject({ url: `/admin/queues/${asset}`, headers: basic });
      expect(res.statusCode, asset).toBe(200);
    }
    const api = await ctx.app.inject({ url: '/admin/queues/api/queues', headers: ctx.auth('admin') });
    expect(api.statusCode).toBe(200);
    expect(api.json().queues.map((q: { name: string }) => q.name)).toContain('maintenance');
    // Basic credentials ride along on cross-site requests; changes from another site are refused.
    const crossSite = await ctx.app.inject({
      method: 'PUT',
      url: '/admin/queues/api/queues/maintenance/pause',
      headers: { ...basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.statusCode).toBe(403);
    expect(await ctx.container.queues.get('maintenance').isPaused()).toBe(false);
    // Basic is for the dashboard only; the API takes Bearer keys.
    expect((await ctx.app.inject({ url: '/v1/keys', headers: basic })).statusCode).toBe(401);
  });
});

describe('rate limit', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '5', AUTH_FAILURES_PER_MINUTE: '5' });
  });
  afterAll(async () => ctx?.close());

  it('answers 429 problem+json past the per-key limit, per key, and by address without a key', async () => {
    const analyst = ctx.auth('analyst');
    for (let i = 0; i < 5; i++) expect((await ctx.app.inject({ url: '/v1/datasets', headers: analyst })).statusCode).toBe(200);
    const limited = await ctx.app.inject({ url: '/v1/datasets', headers: analyst });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another key has its own budget.
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('operator') })).statusCode).toBe(200);
    // Without a key the bucket is the address: floods of unauthenticated requests are limited too.
    const from = { remoteAddress: '198.51.100.7' };
    for (let i = 0; i < 5; i++) expect((await ctx.app.inject({ url: '/v1/datasets', ...from })).statusCode).toBe(401);
    expect((await ctx.app.inject({ url: '/v1/datasets', ...from })).statusCode).toBe(429);
    // Probes are never limited.
    for (let i = 0; i < 8; i++) expect((await ctx.app.inject({ url: '/health', ...from })).statusCode).toBe(200);
  });

  it('limits made-up keys by address, refusing before the lookup, and counts failed authentications', async () => {
    const failures = async () => {
      const text = (await ctx.app.inject({ url: '/metrics' })).body;
      const count = (reason: string) => Number(new RegExp(`^quanke_auth_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return { invalid: count('invalid'), throttled: count('throttled') };
    };
    const before = await failures();
    const madeUp = () => ({ authorization: `Bearer qk_${randomUUID().slice(0, 8)}_${'B'.repeat(43)}` });
    const from = { remoteAddress: '203.0.113.9' };
    // Each made-up key used to be a fresh bucket of its own: 700 of them were 700 lookups and 700 × 401.
    for (let i = 0; i < 5; i++) expect((await ctx.app.inject({ url: '/v1/datasets', headers: madeUp(), ...from })).statusCode).toBe(401);
    const refused = await ctx.app.inject({ url: '/v1/datasets', headers: madeUp(), ...from });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Refused before the key is looked up: even a working key from that address waits the minute out.
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('admin'), ...from })).statusCode).toBe(429);
    // Another address is not affected, nor is the key from elsewhere.
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: madeUp(), remoteAddress: '203.0.113.10' })).statusCode).toBe(401);
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: ctx.auth('admin'), remoteAddress: '203.0.113.10' })).statusCode).toBe(200);
    const after = await failures();
    expect(after.invalid - before.invalid).toBe(6);
    expect(after.throttled - before.throttled).toBe(2);
  });

  it('buckets by a hash prefix of the key, never the key itself', async () => {
    const { rateLimitBucket } = await import('../../src/http/plugins/security.js');
    const key = ctx.auth('scheduler').authorization.slice('Bearer '.length);
    const actor = { name: 'scheduler', role: 'scheduler' as const };
    const bucket = rateLimitBucket({ headers: { authorization: `Bearer ${key}` }, ip: '127.0.0.1', actor });
    expect(bucket).toBe(`key:${hashKey(key).slice(0, 16)}`);
    expect(bucket).not.toContain(key.slice(12));
    // Until the key has authenticated, the bucket is the address.
    expect(rateLimitBucket({ headers: { authorization: `Bearer ${key}` }, ip: '2001:db8::7', actor: null as never })).toBe('ip:2001:db8::');
  });
});

describe('multipart limits', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ UPLOAD_MAX_BYTES: '4096', RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(async () => ctx?.close());

  function multipart(parts: Array<{ name: string; filename?: string; content: string }>) {
    const boundary = `----quanke${randomUUID().replaceAll('-', '')}`;
    const body = parts
      .map((p) =>
        p.filename
          ? `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: text/plain\r\n\r\n${p.content}\r\n`
          : `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"\r\n\r\n${p.content}\r\n`,
      )
      .join('');
    return { payload: `${body}--${boundary}--\r\n`, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
  }

  const upload = (parts: Parameters<typeof multipart>[0]) => {
    const { payload, headers } = multipart(parts);
    return ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...headers, ...ctx.auth('analyst') }, payload });
  };

  it('answers 413 for a file over UPLOAD_MAX_BYTES and for too many fields, 400 naming a second file, and stays healthy', async () => {
    const numbers = Array.from({ length: 600 }, (_, i) => `1380000${String(i).padStart(4, '0')}`).join('\n');
    expect(numbers.length).toBeGreaterThan(4096);
    const tooBig = await upload([{ name: 'name', content: 'big' }, { name: 'file', filename: 'n.txt', content: numbers }]);
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().code).toBe('PAYLOAD_TOO_LARGE');

    const twoFiles = await upload([
      { name: 'name', content: 'two' },
      { name: 'file', filename: 'a.txt', content: '13800000001' },
      { name: 'file2', filename: 'b.txt', content: '13800000002' },
    ]);
    expect(twoFiles.statusCode).toBe(400);
    expect(twoFiles.json().errors).toEqual([{ path: 'file2', message: expect.stringContaining('one file') }]);

    const fields = Array.from({ length: 12 }, (_, i) => ({ name: `f${i}`, content: 'x' }));
    const manyFields = await upload([...fields, { name: 'file', filename: 'a.txt', content: '13800000001' }]);
    expect(manyFields.statusCode).toBe(413);

    expect((await ctx.app.inject({ url: '/ready' })).statusCode).toBe(200);
    expect(ctx.container.config.UPLOAD_MAX_BYTES).toBe(4096);
  });
});

describe('readiness', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  it('fails /ready while Redis is unreachable, and recovers when it is back', async () => {
    expect((await ctx.app.inject({ url: '/ready' })).statusCode).toBe(200);
    ctx.container.redis.disconnect();
    const down = await ctx.app.inject({ url: '/ready' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ status: 'not_ready', dependencies: { redis: { ok: false }, postgres: { ok: true }, duckdb: { ok: true } } });
    // Liveness is not readiness: the process itself is fine.
    expect((await ctx.app.inject({ url: '/health' })).statusCode).toBe(200);
    await ctx.container.redis.connect();
    expect((await ctx.app.inject({ url: '/ready' })).statusCode).toBe(200);
  });
});
