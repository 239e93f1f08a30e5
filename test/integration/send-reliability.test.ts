import { sql } from 'kysely';
import type { Progress } from '../../src/campaigns/campaign.schemas.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmscSimulator, type SmscSimulatorOptions } from '../../src/gateways/simulator/smsc.simulator.js';
import { registerSimulatorGateway } from '../../src/gateways/simulator/simulator.registration.js';
import { startSendWorkers } from '../../src/sending/send.workers.js';
import { deleteQueueKeys } from '../helpers/context.js';
import { expectEveryRecipientAccounted, ledgerOf } from '../helpers/ledger-checks.js';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

/**
 * The "Reliability" list, each case on its own campaign over its own city of the
 * 2,000-customer sample (so the daily cap and recent-contact exclusion of one case never touch
 * another). Chunks of 10 and batches of 40 so that a campaign of ~100 recipients spans several
 * jobs and chunks; per-campaign throttles make it last a few seconds, long enough to interfere.
 */
describe('send pipeline reliability', () => {
  let ctx: SendingContext;
  // The workers' clock: real time shifted by `clockOffsetMs` (the window case moves it).
  let clockOffsetMs = 0;
  const clock = () => new Date(Date.now() + clockOffsetMs);
  const simulators: SmscSimulator[] = [];

  beforeAll(async () => {
    ctx = await createSendingContext({ SEND_BATCH_SIZE: '40', SEND_CHUNK_SIZE: '10', SENDING_TIMEOUT_SECONDS: '5' });
    ctx.senders = await startSendWorkers({ ...ctx.container, now: clock });
  });
  afterAll(async () => {
    await ctx?.close();
    await Promise.all(simulators.map((s) => s.stop()));
  });

  const city = (value: string) => ({ field: 'city', op: 'eq', value });

  /** An SMSC simulator of the case's own, registered as gateway `name` with adapter settings for the case. */
  async function ownGateway(name: string, settings: Record<string, unknown>, options: SmscSimulatorOptions = {}): Promise<SmscSimulator> {
    const simulator = new SmscSimulator({ host: '127.0.0.1', port: 0, ...options });
    simulators.push(simulator);
    const { port } = await simulator.start();
    await registerSimulatorGateway(ctx.container.db, { name, port });
    await sql`UPDATE gateways SET settings = settings || ${JSON.stringify(settings)}::jsonb WHERE name = ${name}`.execute(ctx.container.db);
    return simulator;
  }

  async function post(url: string, role: 'operator' | 'scheduler' | 'approver', payload: unknown = {}) {
    const headers = role === 'approver' ? ctx.approver : ctx.auth(role);
    return ctx.app.inject({ method: 'POST', url, headers, payload: payload as object });
  }

  /** Messages the simulator took for the campaign's numbers. */
  async function submitsOf(simulator: SmscSimulator, id: string): Promise<number> {
    const rows = await ledgerOf(ctx.container.db, id);
    return rows.reduce((sum, r) => sum + simulator.submitsFor(r.msisdn), 0);
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Receipts move submitted messages on to delivered as they arrive.
  const sent = (p: Progress | null) => (p ? p.submitted + p.delivered : 0);

  it('finishes a campaign whose jobs Redis lost mid-way (the reconciler re-enqueues from the ledger)', async () => {
    const id = await ctx.campaign({ throttle: { perSecond: 40 } }, city('东莞'));
    await ctx.launch(id);
    await ctx.waitFor(id, (c) => sent(c.progress) >= 20);
    const before = await ctx.get(id);
    expect(before.progress!.queued).toBeGreaterThan(0);
    // Every job of the campaign is gone from Redis (the reconciler may re-add some at once, so the
    // queue's length right after is not asserted).
    await deleteQueueKeys(ctx.container, ctx.config.QUEUE_PREFIX);

    await ctx.waitFor(id, (c) => c.status === 'completed', 30_000);
    const { progress } = await ctx.get(id);
    await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
    expect(progress!.unknown).toBe(0);
    expect(sent(progress)).toBeGreaterThan(sent(before.progress));
  });

  it('rides out throttling, a dropped connection and refused binds: reconnects and completes, nothing lost or sent twice', async () => {
    const simulator = await ownGateway(
      'flaky',
      { reconnectMinMs: 400, reconnectMaxMs: 800, connectWaitMs: 3_000, responseTimeoutMs: 3_000, throttlePauseMs: 100 },
      { latencyMs: 20, throttleRate: 0.1, seed: 7 },
    );
    const id = await ctx.campaign({ gateway: 'flaky', throttle: { perSecond: 40 } }, city('佛山'));
    await ctx.launch(id);
    await ctx.waitFor(id, (c) => sent(c.progress) >= 20);
    // A network cut, then an SMSC that refuses binds for a second (fewer failures than pause a campaign).
    simulator.configure({ refuseBindsUntil: Date.now() + 1_000 });
    simulator.dropConnections();

    await ctx.waitFor(id, (c) => c.status === 'completed' || c.status === 'paused', 40_000);
    const { status, progress } = await ctx.get(id);
    expect(status).toBe('completed');
    await expectEveryRecipientAccounted(ctx.container.db, id, simulator, progress);
    // It was throttled (answers other than OK), and everything not in doubt went through.
    expect(simulator.totalSubmits).toBeGreaterThan(simulator.acceptedSubmits);
    expect(progress!.failed).toBe(0);
    expect(sent(progress) + progress!.unknown + progress!.suppressed + progress!.capped).toBe(progress!.total);
    expect(simulator.boundSessions).toBeGreaterThan(0);
  });

  it('suppresses a number opted out after launch: it gets nothing and counts as suppressed', async () => {
    const id = await ctx.campaign({ throttle: { perSecond: 20 } }, city('茂名'));
    await ctx.launch(id);
    const paused = await post(`/v1/campaigns/${id}/pause`, 'scheduler');
    expect(paused.statusCode).toBe(200);
    // A worker may be claiming a chunk as the pause lands (it takes effect within about a second):
    // wait until nothing is in flight and the queued rows stop changing, so `late` is really owed.
    let owed = (await ledgerOf(ctx.container.db, id)).filter((r) => !r.is_control && r.status === 'queued');
    for (let settled = 0; settled < 2; ) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const rows = await ledgerOf(ctx.container.db, id);
      const queued = rows.filter((r) => !r.is_control && r.status === 'queued');
      settled = queued.length === owed.length && !rows.some((r) => r.status === 'sending') ? settled + 1 : 0;
      owed = queued;
    }
    const late = owed.at(-1)!;
    await ctx.container.lists.addEntries('opt_out', [late.msisdn], { reason: 'replied TD after launch', source: 'api' }, { name: 'test', role: 'admin' });
    expect((await post(`/v1/campaigns/${id}/resume`, 'scheduler')).statusCode).toBe(200);

    await ctx.waitFor(id, (c) => c.status === 'completed', 30_000);
    const { progress } = await ctx.get(id);
    const { rows } = await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
    expect(rows.find((r) => r.seq === late.seq)!.status).toBe('suppressed');
    expect(ctx.simulator.submitsFor(late.msisdn)).toBe(0);
    expect(progress!.suppressed).toBeGreaterThanOrEqual(1);
  });

  it('sends nothing while the window is closed and sends once it opens (injected clock)', async () => {
    const id = await ctx.campaign({ schedule: { window: { from: '08:00', to: '21:00' } }, throttle: { perSecond: 100 } }, city('湛江'));
    expect((await post(`/v1/campaigns/${id}/target`, 'operator')).statusCode).toBe(200);
    expect((await post(`/v1/campaigns/${id}/approve`, 'approver')).statusCode).toBe(200);
    // The workers' clock reads 07:59:56 in Shanghai (UTC+8, no DST): the window opens in 4 s.
    const fake = new Date();
    fake.setUTCHours(23, 59, 56, 0);
    const opensAtReal = Date.now() + 4_000;
    clockOffsetMs = fake.getTime() - Date.now();
    try {
      const launched = await post(`/v1/campaigns/${id}/launch`, 'scheduler');
      expect(launched.statusCode).toBe(200);
      expect(launched.json().status).toBe('sending');

      // Closed: jobs wait in the delayed set, every row stays queued, the SMSC sees nothing.
      await sleep(1_500);
      expect(Date.now()).toBeLessThan(opensAtReal - 500);
      const closed = await ctx.get(id);
      expect(closed.progress!.queued).toBe(closed.progress!.total);
      expect(await submitsOf(ctx.simulator, id)).toBe(0);
      expect(await ctx.container.queues.get('send').getDelayedCount()).toBeGreaterThan(0);

      await ctx.waitFor(id, (c) => c.status === 'completed', 20_000);
      const { progress } = await ctx.get(id);
      await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
      expect(sent(progress)).toBeGreaterThan(0);
      const first = await ctx.container.db
        .selectFrom('message_ledger')
        .select((eb) => eb.fn.min('submitted_at').as('first'))
        .where('campaign_id', '=', id)
        .executeTakeFirstOrThrow();
      // Allow for the delayed set's polling; nothing went out before the opening.
      expect(new Date(first.first as unknown as string).getTime()).toBeGreaterThanOrEqual(opensAtReal - 250);
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('pauses, resumes and cancels within a second across two worker sets; illegal transitions are 409 naming the state', async () => {
    const second = await startSendWorkers({ ...ctx.container, now: clock });
    try {
      // Slow enough that both worker sets hold chunks waiting on the campaign's throttle.
      const id = await ctx.campaign({ throttle: { perSecond: 20 } }, city('深圳'));
      await ctx.launch(id);
      await ctx.waitFor(id, (c) => sent(c.progress) >= 10);

      expect((await post(`/v1/campaigns/${id}/pause`, 'scheduler')).statusCode).toBe(200);
      await sleep(1_000);
      const atPause = await submitsOf(ctx.simulator, id);
      const pausedView = await ctx.get(id);
      expect(pausedView.status).toBe('paused');
      expect(pausedView.progress!.sending).toBe(0);
      await sleep(1_500);
      expect(await submitsOf(ctx.simulator, id)).toBe(atPause);
      expect((await ctx.get(id)).progress!.queued).toBeGreaterThan(0);

      const again = await post(`/v1/campaigns/${id}/pause`, 'scheduler');
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ code: 'CONFLICT', currentStatus: 'paused' });
      const relaunch = await post(`/v1/campaigns/${id}/launch`, 'scheduler');
      expect(relaunch.statusCode).toBe(409);
      expect(relaunch.json().currentStatus).toBe('paused');

      expect((await post(`/v1/campaigns/${id}/resume`, 'scheduler')).statusCode).toBe(200);
      await sleep(1_000);
      expect(await submitsOf(ctx.simulator, id)).toBeGreaterThan(atPause);
      const resumedAgain = await post(`/v1/campaigns/${id}/resume`, 'scheduler');
      expect(resumedAgain.statusCode).toBe(409);
      expect(resumedAgain.json().currentStatus).toBe('sending');

      expect((await post(`/v1/campaigns/${id}/cancel`, 'scheduler')).statusCode).toBe(200);
      await sleep(1_000);
      const atCancel = await submitsOf(ctx.simulator, id);
      await sleep(1_500);
      expect(await submitsOf(ctx.simulator, id)).toBe(atCancel);
      const { status, progress } = await ctx.get(id);
      expect(status).toBe('cancelled');
      expect(progress!.queued + progress!.sending).toBe(0);
      expect(progress!.cancelled).toBeGreaterThan(0);
      await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);

      for (const action of ['resume', 'pause', 'cancel']) {
        const answer = await post(`/v1/campaigns/${id}/${action}`, 'scheduler');
        expect(answer.statusCode, action).toBe(409);
        expect(answer.json().currentStatus, action).toBe('cancelled');
      }
    } finally {
      await second.close();
    }
  });

  it('leaves nothing queued when a cancel lands while the gateway is answering "retry later"', async () => {
    // Every submit is throttled, and answered only after 800 ms: the cancel finds the chunks on the wire.
    const simulator = await ownGateway('congested', { throttlePauseMs: 100 }, { latencyMs: 800, throttleRate: 1 });
    const id = await ctx.campaign({ gateway: 'congested' }, city('汕头'));
    await ctx.launch(id);
    await ctx.waitFor(id, () => simulator.totalSubmits > 0, 10_000);
    expect((await ctx.get(id)).progress!.sending).toBeGreaterThan(0);
    expect((await post(`/v1/campaigns/${id}/cancel`, 'scheduler')).statusCode).toBe(200);

    await ctx.waitFor(id, (c) => c.progress?.sending === 0, 5_000);
    const { status, progress } = await ctx.get(id);
    expect(status).toBe('cancelled');
    expect(progress!.queued).toBe(0);
    expect(progress!.cancelled).toBe(progress!.total);
    await expectEveryRecipientAccounted(ctx.container.db, id, simulator, progress);
  });

  it('pauses a campaign whose gateway keeps refusing binds, with the reason; resumed once it is back, it completes', async () => {
    const simulator = await ownGateway(
      'down',
      { reconnectMinMs: 20, reconnectMaxMs: 100, connectWaitMs: 300, responseTimeoutMs: 1_000 },
      { refuseBindsUntil: Date.now() + 10 * 60_000 },
    );
    const id = await ctx.campaign({ gateway: 'down' }, city('揭阳'));
    await ctx.launch(id);
    // Paused by the first chunk that finds the gateway down; chunks of other jobs waiting for a bind then give their rows back.
    await ctx.waitFor(id, (c) => c.status === 'paused' && c.progress?.sending === 0, 15_000);
    const paused = await ctx.get(id);
    expect(paused.statusReason).toMatch(/gateway down failed \d+ times in a row: bind refused/);
    expect(simulator.acceptedSubmits).toBe(0);
    expect(paused.progress!.queued).toBe(paused.progress!.total);
    expect(paused.progress!.sending).toBe(0);

    simulator.configure({ refuseBindsUntil: 0 });
    await ctx.waitFor(id, () => simulator.boundSessions > 0, 5_000);
    expect((await post(`/v1/campaigns/${id}/resume`, 'scheduler')).statusCode).toBe(200);
    await ctx.waitFor(id, (c) => c.status === 'completed', 20_000);
    const { progress, statusReason } = await ctx.get(id);
    expect(statusReason).toBeNull();
    await expectEveryRecipientAccounted(ctx.container.db, id, simulator, progress);
    expect(sent(progress)).toBeGreaterThan(0);
  });

  it('starts a scheduled campaign by itself at its time', async () => {
    const id = await ctx.campaign({}, city('肇庆'));
    const at = new Date(Date.now() + 3_000);
    const launched = await ctx.launch(id, at.toISOString());
    expect(launched.status).toBe('scheduled');
    await sleep(1_000);
    expect((await ctx.get(id)).status).toBe('scheduled');
    expect(await submitsOf(ctx.simulator, id)).toBe(0);

    await ctx.waitFor(id, (c) => c.status === 'completed', 20_000);
    const { progress } = await ctx.get(id);
    await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
    const first = await ctx.container.db
      .selectFrom('message_ledger')
      .select((eb) => eb.fn.min('submitted_at').as('first'))
      .where('campaign_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(new Date(first.first as unknown as string).getTime()).toBeGreaterThanOrEqual(at.getTime() - 250);
  });

  it('starts a scheduled campaign whose delayed start job Redis lost (the reconciler starts it)', async () => {
    const id = await ctx.campaign({}, city('中山'));
    const at = new Date(Date.now() + 3_000);
    expect((await ctx.launch(id, at.toISOString())).status).toBe('scheduled');
    await deleteQueueKeys(ctx.container, ctx.config.QUEUE_PREFIX);
    expect(await ctx.container.queues.get('send').getJob(`start-${id}`)).toBeUndefined();

    await ctx.waitFor(id, (c) => c.status === 'completed', 20_000);
    const { progress } = await ctx.get(id);
    await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
    expect(sent(progress)).toBeGreaterThan(0);
  });
});
