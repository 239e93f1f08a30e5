import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IsmgSimulator } from '../../src/gateways/simulator/ismg.simulator.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const SECRET = 'Ismg-secret-5531';

describe('CMPP gateways over HTTP', () => {
  let ctx: TestContext;
  let simulator: IsmgSimulator;
  let port: number;

  beforeAll(async () => {
    ctx = await createTestContext();
    simulator = new IsmgSimulator({ sourceAddr: '901234', sharedSecret: SECRET, receiptDelayMs: -1 });
    ({ port } = await simulator.start());
  });
  afterAll(async () => {
    await ctx?.close();
    await simulator?.stop();
  });

  const gatewayName = () => `cmpp-${randomUUID().slice(0, 8)}`;
  const cmpp = (overrides: Record<string, unknown> = {}) => ({
    protocol: 'cmpp3',
    host: '127.0.0.1',
    port,
    sourceAddr: '901234',
    sharedSecret: SECRET,
    srcId: '1069000',
    serviceId: 'MKT',
    ratePerSecond: 200,
    ...overrides,
  });
  const put = (name: string, payload: unknown) =>
    ctx.app.inject({ method: 'PUT', url: `/v1/gateways/${name}`, headers: ctx.auth('admin'), payload: payload as object });
  const get = (name: string) => ctx.app.inject({ url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
  const stored = async (name: string) =>
    (await ctx.container.db.selectFrom('gateways').select(['protocol', 'settings']).where('name', '=', name).executeTakeFirstOrThrow());

  async function waitForStatus(name: string, status: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const body = (await get(name)).json();
      if (body.status === status) return body;
      if (Date.now() > deadline) throw new Error(`gateway ${name} is ${body.status}, not ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('creates cmpp2 and cmpp3 gateways that connect, never showing or auditing the shared secret', async () => {
    for (const protocol of ['cmpp2', 'cmpp3']) {
      const name = gatewayName();
      const created = await put(name, cmpp({ protocol }));
      expect(created.statusCode).toBe(201);
      expect(created.payload).not.toContain(SECRET);
      expect(created.json()).not.toHaveProperty('sharedSecret');
      expect(created.json()).not.toHaveProperty('version');
      expect(created.json()).toMatchObject({ name, protocol, sourceAddr: '901234', srcId: '1069000', maxOutstanding: 16, passwordSet: true });
      const connected = await waitForStatus(name, 'connected');
      expect(JSON.stringify(connected)).not.toContain(SECRET);
      // Stored for the adapter, without a version: the protocol says it.
      expect(await stored(name)).toMatchObject({ protocol, settings: { sharedSecret: SECRET } });
      expect((await stored(name)).settings).not.toHaveProperty('version');
    }
  });

  it('keeps the stored secret when a change leaves it out, and audits the secret redacted', async () => {
    const name = gatewayName();
    expect((await put(name, cmpp())).statusCode).toBe(201);
    const { sharedSecret: _left, ...withoutSecret } = cmpp({ maxOutstanding: 32 });
    const changed = await put(name, withoutSecret);
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({ maxOutstanding: 32, passwordSet: true });
    expect((await stored(name)).settings.sharedSecret).toBe(SECRET);
    expect((await put(name, cmpp({ maxOutstanding: 32, sharedSecret: 'another-one' }))).statusCode).toBe(200);

    const audit = await ctx.container.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target_type', '=', 'gateway')
      .where('target_id', '=', name)
      .orderBy('id')
      .execute();
    expect(JSON.stringify(audit)).not.toContain(SECRET);
    expect(JSON.stringify(audit)).not.toContain('another-one');
    expect(audit[0]!.after).toMatchObject({ protocol: 'cmpp3', settings: { sharedSecret: '[redacted]' } });
    expect(audit.map((a) => (a.details as { passwordChanged: boolean }).passwordChanged)).toEqual([true, false, true]);
  });

  it('shows why a gateway is down (the ISMG refuses the secret) without the secret', async () => {
    const name = gatewayName();
    expect((await put(name, cmpp({ sharedSecret: 'wrong-secret' }))).statusCode).toBe(201);
    const down = await waitForStatus(name, 'down');
    expect(down.lastError).toBe('connect refused: status 3 (authentication error)');
    expect(JSON.stringify(down)).not.toContain('wrong-secret');
  });

  it('validates the body with the adapter schema', async () => {
    const name = gatewayName();
    const problem = async (payload: unknown) => {
      const res = await put(name, payload);
      expect(res.statusCode).toBe(400);
      return (res.json() as { errors: Array<{ path: string }> }).errors.map((e) => e.path);
    };
    const { sharedSecret: _left, ...withoutSecret } = cmpp();
    expect(await problem(withoutSecret)).toEqual(['sharedSecret']);
    // Source_Addr is 6 octets, Src_Id 21, Service_Id 10.
    expect(await problem(cmpp({ sourceAddr: '9012345' }))).toEqual(['sourceAddr']);
    expect(await problem(cmpp({ srcId: '1'.repeat(22) }))).toEqual(['srcId']);
    expect(await problem(cmpp({ serviceId: 'x'.repeat(11) }))).toEqual(['serviceId']);
    expect(await problem(cmpp({ version: 3 }))).toEqual(['']);
    expect((await get(name)).statusCode).toBe(404);
  });
});
