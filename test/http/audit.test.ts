import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAudit } from '../../src/security/audit.js';
import { createApiKey } from '../../src/security/keys.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

describe('API keys over REST, and the audit log', () => {
  let ctx: TestContext;
  const adminName = `admin-${randomUUID().slice(0, 8)}`;
  let adminKey = '';
  beforeAll(async () => {
    ctx = await createTestContext();
    adminKey = (await createApiKey(ctx.container.db, { name: adminName, role: 'admin', createdBy: 'test' })).key;
  });
  afterAll(async () => ctx?.close());

  const admin = () => ({ authorization: `Bearer ${adminKey}` });

  it('creates a key shown once, lists keys without secrets, revokes at once; each change audited', async () => {
    const name = `alice-${randomUUID().slice(0, 8)}`;
    expect(adminKey).not.toBe('');
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { ...admin(), 'x-request-id': `create-${name}` },
      payload: { name, role: 'analyst', expiresAt: '2099-01-01' },
    });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ name, role: 'analyst', status: 'active', expiresAt: '2099-01-01T00:00:00.000Z', revokedAt: null });
    expect(body.key).toMatch(/^qk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(body.key.slice(3, 11)).toBe(body.prefix);
    const key = body.key as string;

    // The key works, for its role only.
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(200);
    expect((await ctx.app.inject({ url: '/v1/keys', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(403);

    const list = await ctx.app.inject({ url: '/v1/keys', headers: admin() });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(key);
    const stored = await ctx.container.db.selectFrom('api_keys').select('key_hash').where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(list.body).not.toContain(stored.key_hash);
    const listed = list.json().keys.find((k: { id: string }) => k.id === body.id);
    expect(listed).toMatchObject({ name, role: 'analyst', status: 'active' });
    expect(listed).not.toHaveProperty('key');

    const revoked = await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${body.id}`, headers: admin() });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ id: body.id, status: 'revoked' });
    expect(revoked.json().revokedAt).not.toBeNull();
    expect((await ctx.app.inject({ url: '/v1/datasets', headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(401);
    // Revoking again changes nothing and writes no second audit row.
    expect((await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${body.id}`, headers: admin() })).statusCode).toBe(200);

    const rows = await ctx.container.db.selectFrom('audit_log').selectAll().where('target_type', '=', 'api_key').where('target_id', '=', body.id).orderBy('id').execute();
    expect(rows.map((r) => r.action)).toEqual(['key.create', 'key.revoke']);
    expect(rows[0]!.actor).toBe(adminName);
    expect(listed.createdBy).toBe(adminName);
    expect(rows[0]!.actor_role).toBe('admin');
    expect(rows[0]!.request_id).toBe(`create-${name}`);
    expect(rows[0]!.ip).toBe('127.0.0.1');
    expect(rows[0]!.after).toMatchObject({ id: body.id, name, role: 'analyst', prefix: body.prefix });
    expect(rows[1]!.before).toMatchObject({ revokedAt: null });
    expect((rows[1]!.after as { revokedAt: string | null }).revokedAt).not.toBeNull();
    // Neither the secret nor its hash is ever written to the audit log.
    const auditText = JSON.stringify(rows);
    expect(auditText).not.toContain(key);
    expect(auditText).not.toContain(stored.key_hash);
  });

  it('rejects bad key requests with the field named, and refuses an expiry in the past', async () => {
    const bad = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: admin(), payload: { name: 'bob', role: 'root' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { path: string }) => e.path)).toContain('role');
    const past = await ctx.app.inject({ method: 'POST', url: '/v1/keys', headers: admin(), payload: { name: 'bob', role: 'analyst', expiresAt: '2001-01-01' } });
    expect(past.statusCode).toBe(400);
    expect(past.json().errors).toEqual([{ path: 'expiresAt', message: 'must be in the future' }]);
    expect((await ctx.app.inject({ method: 'DELETE', url: `/v1/keys/${randomUUID()}`, headers: admin() })).statusCode).toBe(404);
  });

  it('searches the audit log by actor, action, target and time, newest first, paged by cursor', async () => {
    const actor = { name: `auditor-${randomUUID().slice(0, 8)}`, role: 'operator' as const, ip: '10.0.0.9', requestId: 'r-1' };
    const target = `list-${randomUUID().slice(0, 8)}`;
    for (const action of ['list.entries.add', 'list.entries.remove', 'list.entries.add']) {
      await recordAudit(ctx.container.db, actor, { action, targetType: 'list', targetId: target, after: { msisdns: 1 } });
    }
    const url = (q: string) => `/v1/audit?${q}`;
    const all = await ctx.app.inject({ url: url(`actor=${actor.name}`), headers: admin() });
    expect(all.statusCode).toBe(200);
    const entries = all.json().entries as Array<{ id: number; action: string; actor: string; ip: string; targetId: string }>;
    expect(entries.map((e) => e.action)).toEqual(['list.entries.add', 'list.entries.remove', 'list.entries.add']);
    expect(entries[0]!.id).toBeGreaterThan(entries[1]!.id);
    expect(entries[0]).toMatchObject({ actor: actor.name, actorRole: 'operator', ip: '10.0.0.9', requestId: 'r-1', targetType: 'list', targetId: target });
    expect(all.json().nextCursor).toBeNull();

    const removes = await ctx.app.inject({ url: url(`targetType=list&targetId=${target}&action=list.entries.remove`), headers: admin() });
    expect(removes.json().entries.map((e: { id: number }) => e.id)).toEqual([entries[1]!.id]);

    const page1 = (await ctx.app.inject({ url: url(`actor=${actor.name}&limit=2`), headers: admin() })).json();
    expect(page1.entries.map((e: { id: number }) => e.id)).toEqual([entries[0]!.id, entries[1]!.id]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await ctx.app.inject({ url: url(`actor=${actor.name}&limit=2&cursor=${page1.nextCursor}`), headers: admin() })).json();
    expect(page2.entries.map((e: { id: number }) => e.id)).toEqual([entries[2]!.id]);
    expect(page2.nextCursor).toBeNull();

    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = await ctx.app.inject({ url: url(`actor=${actor.name}&from=${encodeURIComponent(future)}`), headers: admin() });
    expect(none.json().entries).toEqual([]);
    const before = await ctx.app.inject({ url: url(`actor=${actor.name}&to=${encodeURIComponent(future)}`), headers: admin() });
    expect(before.json().entries).toHaveLength(3);

    const badCursor = await ctx.app.inject({ url: url('cursor=not-a-cursor'), headers: admin() });
    expect(badCursor.statusCode).toBe(400);
    expect((await ctx.app.inject({ url: url(''), headers: ctx.auth('operator') })).statusCode).toBe(403);
  });

  it('keeps the audit log append-only', async () => {
    await expect(sql`UPDATE audit_log SET actor = 'someone-else' WHERE id = (SELECT max(id) FROM audit_log)`.execute(ctx.container.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)`.execute(ctx.container.db)).rejects.toThrow(/append-only/);
  });
});
