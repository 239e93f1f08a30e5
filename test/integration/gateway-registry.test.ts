import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/kysely.js';
import type { Database } from '../../src/db/schema.js';
import { FeedbackSink } from '../../src/gateways/feedback.sink.js';
import type { Gateway, GatewayEvents, GatewayReceipt, GatewayStatus, MoMessage, OutboundMessage, SubmitOutcome } from '../../src/gateways/gateway.js';
import { GatewayRegistry, type GatewayAdapterOptions } from '../../src/gateways/gateway.registry.js';
import { insertGateway, updateGateway } from '../../src/gateways/gateway.repository.js';
import { registerSimulatorGateway, startGatewaySimulator } from '../../src/gateways/simulator/simulator.registration.js';
import { SmscSimulator } from '../../src/gateways/simulator/smsc.simulator.js';
import { AppError } from '../../src/http/errors.js';
import { TEST_DATABASE_URL } from '../helpers/env.js';

const SECRET = 'Rg4-pw9k';
const silent = pino({ level: 'silent' });

/** A pino logger whose lines the test can read. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function waitFor<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in time; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A Db that records every statement and fails those `fail` picks: an outage, or a row Postgres refuses. */
function faultyDb(fail: (sqlText: string, parameters: readonly unknown[]) => Error | undefined): { db: Db; statements: string[]; close(): Promise<void> } {
  const statements: string[] = [];
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const wrapped = new WeakSet<pg.PoolClient>();
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: {
        connect: async () => {
          const client = await pool.connect();
          if (wrapped.has(client)) return client;
          wrapped.add(client);
          const query = client.query.bind(client) as (sqlText: string, parameters?: unknown[]) => Promise<unknown>;
          return Object.assign(client, {
            query: (sqlText: string, parameters?: unknown[]) => {
              statements.push(sqlText);
              const error = fail(sqlText, parameters ?? []);
              return error ? Promise.reject(error) : query(sqlText, parameters);
            },
          });
        },
        end: () => pool.end(),
      } as unknown as pg.Pool,
    }),
  });
  return { db, statements, close: () => db.destroy() };
}

const gatewayName = () => `reg-${randomUUID().slice(0, 8)}`;
const smppSettings = (port: number, overrides: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port,
  systemId: 'quanke',
  password: SECRET,
  sourceAddr: '1069000',
  responseTimeoutMs: 1_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 200,
  ...overrides,
});

function receipt(gateway: string, n: number): GatewayReceipt {
  return {
    gateway,
    gatewayMessageId: `m-${n}`,
    status: n % 5 === 0 ? 'UNDELIV' : 'DELIVRD',
    errorCode: n % 5 === 0 ? '001' : null,
    doneAt: new Date(Date.UTC(2026, 11, 1, 8, 0, n % 60)),
    receivedAt: new Date(Date.UTC(2026, 11, 1, 8, 1, n % 60)),
  };
}

function mo(gateway: string, n: number, text = `TD ${n}`): MoMessage {
  return { gateway, msisdn: `1390000${String(n).padStart(4, '0')}`, to: '1069000', text, receivedAt: new Date(Date.UTC(2026, 11, 1, 9, 0, n % 60)) };
}

describe('GatewayRegistry and FeedbackSink', () => {
  let db: Db;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(() => {
    db = createDb(TEST_DATABASE_URL, 4);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => db?.destroy());

  const receiptsOf = (gateway: string) =>
    db.selectFrom('gateway_receipts').selectAll().where('gateway', '=', gateway).orderBy('id').execute();
  const moOf = (gateway: string) => db.selectFrom('mo_messages').selectAll().where('gateway', '=', gateway).orderBy('id').execute();

  /** A gateway row of this test, deleted afterwards so other test files listing gateways never see it. */
  async function addGateway(gateway: Parameters<typeof insertGateway>[1]): Promise<void> {
    await insertGateway(db, gateway);
    cleanups.push(async () => {
      await db.deleteFrom('gateways').where('name', '=', gateway.name).execute();
    });
  }

  async function startSimulator(): Promise<{ simulator: SmscSimulator; port: number }> {
    const simulator = new SmscSimulator({ systemId: 'quanke', password: SECRET, receiptDelayMs: 10, seed: 3 });
    const { port } = await simulator.start();
    cleanups.push(() => simulator.stop());
    return { simulator, port };
  }

  function openRegistry(options: { sink?: FeedbackSink; logger?: pino.Logger; recheckMs?: number; adapters?: ConstructorParameters<typeof GatewayRegistry>[0]['adapters'] } = {}) {
    const sink = options.sink ?? new FeedbackSink({ db, logger: silent, flushIntervalMs: 20 });
    const registry = new GatewayRegistry({ db, logger: options.logger ?? silent, sink, recheckMs: options.recheckMs ?? 0, adapters: options.adapters });
    cleanups.push(async () => {
      await registry.close();
      await sink.close();
    });
    return { registry, sink };
  }

  it('builds the SMPP adapter from the row, submits, and writes its receipts and MO messages', async () => {
    const { simulator, port } = await startSimulator();
    const name = gatewayName();
    await addGateway({ name, protocol: 'smpp', settings: smppSettings(port), ratePerSecond: 250, actor: 'test' });
    const { logger, lines } = capturingLogger();
    const { registry } = openRegistry({ logger });

    const gateway = await registry.get(name);
    expect(gateway.name).toBe(name);
    expect(await registry.ratePerSecond(name)).toBe(250);
    const batch: OutboundMessage[] = [0, 1, 2].map((n) => ({ ref: `r${n}`, msisdn: `1380000000${n}`, text: `hello ${n}` }));
    const outcomes = await gateway.submit(batch);
    expect(outcomes.map((o) => o.kind)).toEqual(['accepted', 'accepted', 'accepted']);
    const ids = outcomes.flatMap((o) => (o.kind === 'accepted' ? o.gatewayMessageIds : []));
    expect(registry.statuses().get(name)).toMatchObject({ status: 'connected' });

    // The simulator writes ids in hex in submit_sm_resp and in decimal in the receipt: both normalised alike.
    const receipts = await waitFor(() => receiptsOf(name), (rows) => rows.length === 3);
    expect(receipts.map((r) => r.gateway_message_id).sort()).toEqual([...ids].sort());
    expect(receipts.every((r) => r.status === 'DELIVRD' && r.applied_at === null)).toBe(true);

    // At least ours: an API process of a parallel test file listing gateways may have bound too.
    expect(simulator.sendMo('13800000009', '退订')).toBeGreaterThanOrEqual(1);
    const replies = await waitFor(() => moOf(name), (rows) => rows.length >= 1);
    expect(replies[0]).toMatchObject({ msisdn: '13800000009', to_addr: '1069000', text: '退订', processed_at: null });

    expect(lines.join('')).not.toContain(SECRET);
  });

  it('throws NOT_FOUND for an unknown gateway and NOT_READY for a protocol without an adapter', async () => {
    // Every protocol has an adapter now; a registry built without the one for cmpp2 stands for a
    // protocol this build cannot speak.
    const { registry } = openRegistry({ adapters: {} });
    const unknown = await registry.get(gatewayName()).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(AppError);
    expect((unknown as AppError).code).toBe('NOT_FOUND');

    const name = gatewayName();
    await addGateway({ name, protocol: 'cmpp2', settings: { host: '127.0.0.1', port: 7890 }, ratePerSecond: 10, actor: 'test' });
    const unsupported = await registry.get(name).catch((error: unknown) => error);
    expect((unsupported as AppError).code).toBe('NOT_READY');
    expect(await registry.status(name)).toMatchObject({ status: 'down', lastError: expect.stringContaining('cmpp2') });
  });

  it('keeps the connection when only the rate changes, reconnects when the settings change, and retires a deleted gateway', async () => {
    const { port } = await startSimulator();
    const name = gatewayName();
    await addGateway({ name, protocol: 'smpp', settings: smppSettings(port), ratePerSecond: 100, actor: 'test' });
    const { registry } = openRegistry();
    const first = await registry.get(name);
    await waitFor(() => first.status().status, (s) => s === 'connected');

    await updateGateway(db, { name, protocol: 'smpp', settings: smppSettings(port), ratePerSecond: 150, actor: 'test' });
    expect(await registry.get(name)).toBe(first);
    expect(await registry.ratePerSecond(name)).toBe(150);

    await updateGateway(db, { name, protocol: 'smpp', settings: smppSettings(port, { sourceAddr: '10690002' }), ratePerSecond: 150, actor: 'test' });
    const second = await registry.get(name);
    expect(second).not.toBe(first);
    await waitFor(() => second.status().status, (s) => s === 'connected');
    // The first adapter closed (its bind is gone).
    await waitFor(() => first.status().status, (s) => s === 'down');
    expect((await second.submit([{ ref: 'a', msisdn: '13800000001', text: 'after the change' }]))[0]!.kind).toBe('accepted');

    await db.deleteFrom('gateways').where('name', '=', name).execute();
    await expect(registry.get(name)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await waitFor(() => second.status().status, (s) => s === 'down');
    expect(registry.statuses().has(name)).toBe(false);
  });

  it('rechecks the row at most every recheckMs', async () => {
    const built: string[] = [];
    const name = gatewayName();
    await addGateway({ name, protocol: 'smpp', settings: smppSettings(1, { sourceAddr: 'v1' }), ratePerSecond: 5, actor: 'test' });
    const { registry } = openRegistry({
      recheckMs: 60_000,
      adapters: { smpp: (options) => (built.push(String(options.settings.sourceAddr)), new FakeGateway(options)) },
    });
    await registry.get(name);
    await updateGateway(db, { name, protocol: 'smpp', settings: smppSettings(1, { sourceAddr: 'v2' }), ratePerSecond: 7, actor: 'test' });
    await registry.get(name);
    expect(await registry.ratePerSecond(name)).toBe(5);
    expect(built).toEqual(['v1']);
    // This process changed it (the API's PUT): the next get reads the row at once.
    registry.invalidate(name);
    expect(await registry.ratePerSecond(name)).toBe(7);
    expect(built).toEqual(['v1', 'v2']);
  });

  it('closes a replaced adapter only once its in-flight submits have settled, and builds one adapter for concurrent first uses', async () => {
    const fakes: FakeGateway[] = [];
    const name = gatewayName();
    await addGateway({ name, protocol: 'smpp', settings: smppSettings(1, { sourceAddr: 'v1' }), ratePerSecond: 5, actor: 'test' });
    const { registry } = openRegistry({ adapters: { smpp: (options) => fakes[fakes.push(new FakeGateway(options)) - 1]! } });

    const [a, b] = await Promise.all([registry.get(name), registry.get(name)]);
    expect(a).toBe(b);
    expect(fakes).toHaveLength(1);

    const old = fakes[0]!;
    const pending = a.submit([{ ref: 'slow', msisdn: '13800000001', text: 'x' }]);
    await updateGateway(db, { name, protocol: 'smpp', settings: smppSettings(1, { sourceAddr: 'v2' }), ratePerSecond: 5, actor: 'test' });
    await registry.get(name);
    expect(fakes).toHaveLength(2);
    expect(old.closed).toBe(false);
    old.release();
    expect((await pending)[0]!.kind).toBe('accepted');
    await waitFor(() => old.closed, (closed) => closed);

    // What get hands out cannot close the shared adapter.
    await (await registry.get(name)).close();
    expect(fakes[1]!.closed).toBe(false);
    await registry.close();
    expect(fakes[1]!.closed).toBe(true);
  });

  it('writes receipts and MO messages in batches: one INSERT per table for a burst, one per interval for a trickle', async () => {
    const { db: counted, statements, close } = faultyDb(() => undefined);
    cleanups.push(close);
    const sink = new FeedbackSink({ db: counted, logger: silent, batchSize: 1_000, flushIntervalMs: 100 });
    cleanups.push(() => sink.close());
    const name = gatewayName();
    const inserts = (table: string) => statements.filter((s) => s.includes(`INSERT INTO ${table}`)).length;

    // A burst of 2,500 in one tick: the 1,000th starts a flush, which takes everything buffered by then.
    for (let n = 0; n < 2_500; n += 1) sink.addReceipt(receipt(name, n));
    for (let n = 0; n < 3; n += 1) sink.addMo(mo(name, n));
    await waitFor(() => receiptsOf(name), (rows) => rows.length === 2_500);
    await waitFor(() => moOf(name), (rows) => rows.length === 3);
    expect(inserts('gateway_receipts')).toBe(1);
    expect(inserts('mo_messages')).toBe(1);
    expect(sink.pending).toBe(0);

    const rows = await receiptsOf(name);
    // Every field as given, in order (worked from `receipt(n)` above).
    expect(rows[5]).toMatchObject({ gateway_message_id: 'm-5', status: 'UNDELIV', error_code: '001' });
    expect(rows[5]!.done_at!.toISOString()).toBe('2026-12-01T08:00:05.000Z');
    expect(rows[7]).toMatchObject({ gateway_message_id: 'm-7', status: 'DELIVRD', error_code: null });
    expect(rows[7]!.received_at.toISOString()).toBe('2026-12-01T08:01:07.000Z');

    // A trickle below the batch size waits for the interval, then goes out together.
    sink.addReceipt(receipt(name, 9_001));
    sink.addReceipt(receipt(name, 9_002));
    sink.addMo(mo(name, 9_003, 'full\u0000stop'));
    expect(inserts('gateway_receipts')).toBe(1);
    await waitFor(() => receiptsOf(name), (all) => all.length === 2_502);
    expect(inserts('gateway_receipts')).toBe(2);
    const replies = await waitFor(() => moOf(name), (all) => all.length === 4);
    // NUL, which a text column refuses, became U+FFFD instead of failing the batch.
    expect(replies[3]!.text).toBe('full\uFFFDstop');
  });

  it('loses nothing when flushes fail: the items are kept and written when the database answers again', async () => {
    let outage = true;
    const { db: flaky, close } = faultyDb((sqlText) => (outage && sqlText.includes('INSERT INTO') ? new Error('connection terminated') : undefined));
    cleanups.push(close);
    const { logger, lines } = capturingLogger();
    const sink = new FeedbackSink({ db: flaky, logger, flushIntervalMs: 10, retryMaxMs: 40 });
    cleanups.push(() => sink.close());
    const name = gatewayName();

    for (let n = 0; n < 10; n += 1) sink.addReceipt(receipt(name, n));
    sink.addMo(mo(name, 1));
    await expect(sink.flush()).rejects.toThrow('connection terminated');
    expect(sink.pending).toBe(11);
    await waitFor(() => lines.filter((l) => l.includes('feedback flush failed')).length, (n) => n >= 2);
    for (let n = 10; n < 15; n += 1) sink.addReceipt(receipt(name, n));

    outage = false;
    const rows = await waitFor(() => receiptsOf(name), (all) => all.length === 15);
    // In the order they came, none twice.
    expect(rows.map((r) => r.gateway_message_id)).toEqual(Array.from({ length: 15 }, (_, n) => `m-${n}`));
    await waitFor(() => moOf(name), (all) => all.length === 1);
    await waitFor(() => sink.pending, (n) => n === 0);
  });

  it('writes every storable row of a batch that holds one Postgres refuses, and drops only that one', async () => {
    const poison = Object.assign(new Error('invalid byte sequence'), { code: '22021' });
    const { db: picky, close } = faultyDb((sqlText, parameters) =>
      sqlText.includes('INSERT INTO gateway_receipts') && JSON.stringify(parameters).includes('poison') ? poison : undefined,
    );
    cleanups.push(close);
    const { logger, lines } = capturingLogger();
    const sink = new FeedbackSink({ db: picky, logger });
    cleanups.push(() => sink.close());
    const name = gatewayName();
    for (let n = 0; n < 9; n += 1) sink.addReceipt(n === 6 ? { ...receipt(name, n), gatewayMessageId: 'poison' } : receipt(name, n));
    await sink.flush();
    expect((await receiptsOf(name)).map((r) => r.gateway_message_id)).toEqual(['m-0', 'm-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-7', 'm-8']);
    expect(lines.filter((l) => l.includes('dropped'))).toHaveLength(1);
  });

  it('close() writes what is still buffered', async () => {
    const sink = new FeedbackSink({ db, logger: silent, flushIntervalMs: 60_000 });
    const name = gatewayName();
    sink.addReceipt(receipt(name, 1));
    sink.addMo(mo(name, 2));
    await sink.close();
    expect(await receiptsOf(name)).toHaveLength(1);
    expect(await moOf(name)).toHaveLength(1);
  });

  it('starts the simulator and registers it as a gateway a registry can send through', async () => {
    const name = `sim-${randomUUID().slice(0, 8)}`;
    const config = { GATEWAY_SIMULATOR: true, GATEWAY_SIMULATOR_PORT: 0 };
    expect(await startGatewaySimulator({ db, config: { ...config, GATEWAY_SIMULATOR: false }, logger: silent, name })).toBeNull();

    const started = await startGatewaySimulator({ db, config, logger: silent, name });
    expect(started).not.toBeNull();
    cleanups.push(async () => {
      await started!.close();
      await db.deleteFrom('gateways').where('name', '=', name).execute();
    });
    const row = await db.selectFrom('gateways').selectAll().where('name', '=', name).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ protocol: 'smpp', simulator: true, rate_per_second: 1_000, created_by: 'system' });
    expect(row.settings).toMatchObject({ host: '127.0.0.1', port: started!.port });

    // The same port again changes nothing (no reconnect anywhere).
    expect(await registerSimulatorGateway(db, { name, port: started!.port })).toBe(true);
    const again = await db.selectFrom('gateways').select('updated_at').where('name', '=', name).executeTakeFirstOrThrow();
    expect(again.updated_at).toEqual(row.updated_at);

    const { registry } = openRegistry();
    const gateway = await registry.get(name);
    const [outcome] = await gateway.submit([{ ref: 'one', msisdn: '13900001111', text: '尊敬的客户，您好' }]);
    expect(outcome!.kind).toBe('accepted');
    expect(started!.simulator.messagesFor('13900001111')).toEqual(['尊敬的客户，您好']);
    await waitFor(() => receiptsOf(name), (rows) => rows.length === 1);

    // A real gateway that happens to have the name is never overwritten.
    const taken = gatewayName();
    await addGateway({ name: taken, protocol: 'smpp', settings: smppSettings(2775), ratePerSecond: 5, actor: 'test' });
    expect(await startGatewaySimulator({ db, config, logger: silent, name: taken })).toBeNull();
    const kept = await db.selectFrom('gateways').select(['settings', 'simulator']).where('name', '=', taken).executeTakeFirstOrThrow();
    expect(kept).toMatchObject({ simulator: false, settings: { port: 2775, password: SECRET } });
  });
});

/** An adapter whose submits wait until `release()`; counts nothing, sends nothing. */
class FakeGateway implements Gateway {
  readonly name: string;
  closed = false;
  private releases: Array<() => void> = [];
  private released = false;

  constructor(options: GatewayAdapterOptions) {
    this.name = options.name;
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    if (!this.released) await new Promise<void>((resolve) => this.releases.push(resolve));
    return batch.map((m) => ({ kind: 'accepted', ref: m.ref, gatewayMessageIds: [`fake-${m.ref}`] }));
  }

  release(): void {
    this.released = true;
    for (const resolve of this.releases.splice(0)) resolve();
  }

  status(): GatewayStatus {
    return { status: this.closed ? 'down' : 'connected', consecutiveFailures: 0 };
  }

  on<E extends keyof GatewayEvents>(_event: E, _listener: GatewayEvents[E]): void {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
