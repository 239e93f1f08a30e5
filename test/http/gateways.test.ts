import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmscSimulator } from '../../src/gateways/simulator/smsc.simulator.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const SECRET = 'Zq7-pw8x';

describe('gateways over HTTP', () => {
  let ctx: TestContext;
  let simulator: SmscSimulator;
  let port: number;

  beforeAll(async () => {
    ctx = await createTestContext();
    simulator = new SmscSimulator({ systemId: 'quanke', password: SECRET, receiptDelayMs: -1 });
    ({ port } = await simulator.start());
  });
  afterAll(async () => {
    await ctx?.close();
    await simulator?.stop();
  });

  const gatewayName = () => `gw-${randomUUID().slice(0, 8)}`;
  const smpp = (overrides: Record<string, unknown> = {}) => ({
    protocol: 'smpp',
    host: '127.0.0.1',
    port,
    systemId: 'quanke',
    password: SECRET,
    sourceAddr: '10690001',
    ratePerSecond: 200,
    ...overrides,
  });
  const put = (name: string, payload: unknown, role: 'admin' | 'operator' = 'admin') =>
    ctx.app.inject({ method: 'PUT', url: `/v1/gateways/${name}`, headers: ctx.auth(role), payload: payload as object });
  const get = (name: string) => ctx.app.inject({ url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
  const auditOf = (name: string) =>
    ctx.container.db.selectFrom('audit_log').selectAll().where('target_type', '=', 'gateway').where('target_id', '=', name).orderBy('id').execute();
  const storedPassword = async (name: string) =>
    (await ctx.container.db.selectFrom('gateways').select('settings').where('name', '=', name).executeTakeFirstOrThrow()).settings.password;

  async function waitForStatus(name: string, status: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = (await get(name)).json();
      if (body.status === status) return body;
      if (Date.now() > deadline) throw new Error(`gateway ${name} is ${body.status}, not ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('creates a gateway, never shows its password, and reports its live connection', async () => {
    const name = gatewayName();
    const created = await put(name, smpp());
    expect(created.statusCode).toBe(201);
    expect(created.payload).not.toContain(SECRET);
    expect(created.json()).not.toHaveProperty('password');
    expect(created.json()).toMatchObject({
      name,
      protocol: 'smpp',
      host: '127.0.0.1',
      port,
      systemId: 'quanke',
      sourceAddr: '10690001',
      ratePerSecond: 200,
      passwordSet: true,
      simulator: false,
      // the adapter's defaults, filled in and shown
      maxOutstanding: 50,
      enquireLinkSeconds: 30,
    });
    expect(['connecting', 'connected']).toContain(created.json().status);

    const connected = await waitForStatus(name, 'connected');
    expect(connected).not.toHaveProperty('lastError');
    expect(simulator.boundSessions).toBeGreaterThanOrEqual(1);

    const all = await ctx.app.inject({ url: '/v1/gateways', headers: ctx.auth('admin') });
    expect(all.statusCode).toBe(200);
    expect(all.payload).not.toContain(SECRET);
    expect(all.json().gateways.find((g: { name: string }) => g.name === name)).toMatchObject({ passwordSet: true, status: 'connected' });
  });

  it('keeps the stored password when a change leaves it out, and audits every change with the secret redacted', async () => {
    const name = gatewayName();
    expect((await put(name, smpp())).statusCode).toBe(201);

    const { password: _left, ...withoutPassword } = smpp({ ratePerSecond: 300, enquireLinkSeconds: 10 });
    const changed = await put(name, withoutPassword);
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ ratePerSecond: 300, enquireLinkSeconds: 10, passwordSet: true });
    expect(await storedPassword(name)).toBe(SECRET);

    const same = await put(name, withoutPassword);
    expect(same.statusCode).toBe(200);

    const newSecret = 'n3w-Pw';
    expect((await put(name, smpp({ ratePerSecond: 300, enquireLinkSeconds: 10, password: newSecret }))).statusCode).toBe(200);
    expect(await storedPassword(name)).toBe(newSecret);

    const audit = await auditOf(name);
    // The identical PUT wrote nothing.
    expect(audit.map((a) => a.action)).toEqual(['gateway.create', 'gateway.update', 'gateway.update']);
    for (const row of audit) {
      const text = JSON.stringify(row);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(newSecret);
    }
    expect(audit[0]!.after).toMatchObject({ protocol: 'smpp', ratePerSecond: 200, settings: { password: '[redacted]', host: '127.0.0.1' } });
    expect(audit[1]!.before).toMatchObject({ ratePerSecond: 200, settings: { password: '[redacted]' } });
    expect(audit[1]!.after).toMatchObject({ ratePerSecond: 300, settings: { password: '[redacted]', enquireLinkSeconds: 10 } });
    expect(audit.map((a) => (a.details as { passwordChanged: boolean }).passwordChanged)).toEqual([true, false, true]);
  });

  it('shows why a gateway is down (the SMSC refuses the password)', async () => {
    const name = gatewayName();
    expect((await put(name, smpp({ password: 'wrong' }))).statusCode).toBe(201);
    const down = await waitForStatus(name, 'down');
    expect(down.lastError).toEqual(expect.any(String));
    expect(String(down.lastError)).not.toContain(SECRET);
  });

  it('validates the body per protocol, and the name', async () => {
    const name = gatewayName();
    const problem = async (payload: unknown, target = name) => {
      const res = await put(target, payload);
      expect(res.statusCode).toBe(400);
      return res.json() as { detail: string; errors: Array<{ path: string; message: string }> };
    };

    // MM7 is validated by its adapter's schema: SMPP settings do not fit it.
    const mm7 = await problem({ ...smpp(), protocol: 'mm7' });
    expect(mm7.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['url', 'vaspId', 'vasId', 'senderAddress']));
    // Kannel is validated by its adapter's schema: SMPP settings do not fit it.
    const kannel = await problem({ ...smpp(), protocol: 'kannel' });
    expect(kannel.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['sendsmsUrl', 'username', 'from', 'dlrUrlBase']));
    expect((await problem({ ...smpp(), protocol: 'smtp' })).errors).toEqual([
      { path: 'protocol', message: 'must be one of smpp, cmpp2, cmpp3, kannel, mm7' },
    ]);

    const { password: _left, ...withoutPassword } = smpp();
    expect((await problem(withoutPassword)).errors).toEqual([{ path: 'password', message: 'required for a new gateway' }]);
    // SMPP 3.4 allows 8 octets of password, 15 of system_id.
    expect((await problem(smpp({ password: '123456789' }))).errors.map((e) => e.path)).toEqual(['password']);
    expect((await problem(smpp({ systemId: 'x'.repeat(16) }))).errors.map((e) => e.path)).toEqual(['systemId']);
    expect((await problem(smpp({ ratePerSecond: 0 }))).errors.map((e) => e.path)).toEqual(['ratePerSecond']);
    expect((await problem(smpp({ port: 70_000 }))).errors.map((e) => e.path)).toEqual(['port']);
    expect((await problem(smpp({ pasword: 'typo' }))).detail).toContain('pasword');
    await problem(smpp(), 'Bad_Name');
    await problem(smpp(), `g${'x'.repeat(63)}`);

    // Nothing was stored on the way.
    expect((await get(name)).statusCode).toBe(404);
  });

  it('is for admins only', async () => {
    const name = gatewayName();
    expect((await put(name, smpp(), 'operator')).statusCode).toBe(403);
    const list = await ctx.app.inject({ url: '/v1/gateways', headers: ctx.auth('scheduler') });
    expect(list.statusCode).toBe(403);
    const anonymous = await ctx.app.inject({ url: '/v1/gateways' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers 404 for an unknown gateway', async () => {
    const name = gatewayName();
    expect((await get(name)).statusCode).toBe(404);
    const removed = await ctx.app.inject({ method: 'DELETE', url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
    expect(removed.statusCode).toBe(404);
    expect(removed.json().code).toBe('NOT_FOUND');
  });

  it('refuses to delete a gateway a running campaign uses (409), and deletes it once the campaign is done', async () => {
    const name = gatewayName();
    expect((await put(name, smpp())).statusCode).toBe(201);
    const campaignName = `uses ${name}`;
    const campaign = await ctx.container.db
      .insertInto('campaigns')
      .values({
        name: campaignName,
        class: 'marketing',
        segment_id: randomUUID(),
        exclusion_policy: 'default',
        channel: 'sms',
        message: JSON.stringify({ text: 'hi' }),
        schedule: JSON.stringify({}),
        throttle: JSON.stringify({}),
        control_percent: 5,
        gateway: name,
        status: 'paused',
        created_by: 'test',
        updated_by: 'test',
      })
      .returning('id')
      .executeTakeFirstOrThrow();

    const refused = await ctx.app.inject({ method: 'DELETE', url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'IN_USE', campaigns: [{ id: campaign.id, name: campaignName, status: 'paused' }] });
    expect(refused.json().detail).toContain(campaignName);
    expect((await get(name)).statusCode).toBe(200);

    await ctx.container.db.updateTable('campaigns').set({ status: 'completed' }).where('id', '=', campaign.id).execute();
    const deleted = await ctx.app.inject({ method: 'DELETE', url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
    expect(deleted.statusCode).toBe(204);
    expect((await get(name)).statusCode).toBe(404);

    const audit = await auditOf(name);
    expect(audit.map((a) => a.action)).toEqual(['gateway.create', 'gateway.delete']);
    expect(JSON.stringify(audit[1])).not.toContain(SECRET);
    expect(audit[1]!.before).toMatchObject({ settings: { password: '[redacted]' } });
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await ctx.app.inject({ url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    expect(Object.keys(doc.json().paths)).toEqual(expect.arrayContaining(['/v1/gateways', '/v1/gateways/{name}']));
  });
});
