import { randomUUID } from 'node:crypto';
import { createApiKey } from '../../src/security/keys.js';
import type { Progress } from '../../src/campaigns/campaign.schemas.js';
import { SmscSimulator, type SmscSimulatorOptions } from '../../src/gateways/simulator/smsc.simulator.js';
import { registerSimulatorGateway } from '../../src/gateways/simulator/simulator.registration.js';
import { startSendWorkers, type SendWorkers } from '../../src/sending/send.workers.js';
import { createTestContext, type TestContext } from './context.js';
import { dropOwnDatabase, ownDatabaseUrl } from './own-database.js';
import { loadSample } from './sample.js';

export interface SendingContext extends TestContext {
  simulator: SmscSimulator;
  /** A second operator key, so campaigns can be approved by someone other than their creator. */
  approver: { authorization: string };
  senders: SendWorkers | undefined;
  startSenders(): Promise<SendWorkers>;
  /** Creates a segment from a condition and a campaign on it (created by the operator), returning the campaign id. */
  campaign(overrides?: Record<string, unknown>, condition?: unknown): Promise<string>;
  /** Target, approve and launch; returns the launch answer. */
  launch(id: string, at?: string): Promise<Record<string, unknown>>;
  get(id: string): Promise<{ status: string; progress: Progress | null; statusReason: string | null }>;
  waitFor(id: string, done: (c: { status: string; progress: Progress | null }) => boolean, timeoutMs?: number): Promise<void>;
}

/**
 * A whole send pipeline for a test file: its own Postgres database (frequency caps and lists are
 * per number, and the sample's numbers are shared by every file), the sample warehouse, an SMSC
 * simulator on a free loopback port registered as the gateway `simulator`, and send workers.
 */
export async function createSendingContext(env: Record<string, string> = {}, simulatorOptions: SmscSimulatorOptions = {}): Promise<SendingContext> {
  const databaseUrl = ownDatabaseUrl();
  const ctx = await createTestContext({
    DATABASE_URL: databaseUrl,
    SEND_WINDOW: '00:00-24:00',
    RECONCILE_INTERVAL_MS: '300',
    GATEWAY_SIMULATOR: 'false',
    ...env,
  });
  await loadSample(ctx);
  const simulator = new SmscSimulator({ host: '127.0.0.1', port: 0, ...simulatorOptions });
  const { port } = await simulator.start();
  await registerSimulatorGateway(ctx.container.db, { name: 'simulator', port });
  const second = await createApiKey(ctx.container.db, { name: `approver-${randomUUID().slice(0, 6)}`, role: 'operator', createdBy: 'test' });
  const approver = { authorization: `Bearer ${second.key}` };

  const send = async (method: 'GET' | 'POST', url: string, role: 'operator' | 'scheduler' | 'admin' | 'approver', payload?: unknown) => {
    const headers = role === 'approver' ? approver : ctx.auth(role);
    const response = await ctx.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
    if (response.statusCode >= 400) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json() as Record<string, unknown>;
  };

  const context: SendingContext = {
    ...ctx,
    simulator,
    approver,
    senders: undefined,
    async startSenders() {
      context.senders = await startSendWorkers(ctx.container);
      return context.senders;
    },
    async campaign(overrides = {}, condition = { field: 'status', op: 'eq', value: 'active' }) {
      const segment = await send('POST', '/v1/segments', 'operator', { name: `seg-${randomUUID().slice(0, 8)}`, condition });
      const campaign = await send('POST', '/v1/campaigns', 'operator', {
        name: `campaign-${randomUUID().slice(0, 8)}`,
        category: 'test',
        segmentId: segment.id,
        exclusionPolicy: 'default',
        message: { text: '尊敬的{name}，您本月流量已用{data_mb}MB', signature: '【中国移动】', optOutSuffix: '回T退订' },
        gateway: 'simulator',
        controlGroupPercent: 10,
        ...overrides,
      });
      return campaign.id as string;
    },
    async launch(id, at) {
      await send('POST', `/v1/campaigns/${id}/target`, 'operator');
      await send('POST', `/v1/campaigns/${id}/approve`, 'approver', {});
      return send('POST', `/v1/campaigns/${id}/launch`, 'scheduler', at ? { at } : {});
    },
    async get(id) {
      return (await send('GET', `/v1/campaigns/${id}`, 'operator')) as never;
    },
    async waitFor(id, done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = await context.get(id);
        if (done(c)) return;
        if (Date.now() > deadline) throw new Error(`campaign ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(c)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await context.senders?.close();
      await ctx.close();
      await simulator.stop();
      await dropOwnDatabase(databaseUrl);
    },
  };
  return context;
}
