import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedWorkers } from '../../src/jobs/embedded.js';
import { REPEATABLE_JOBS } from '../../src/jobs/job-types.js';
import { createTestContext, deleteQueueKeys, type TestContext } from '../helpers/context.js';

const SCHEDULES = REPEATABLE_JOBS.map((j) => j.name).sort();

/** Simulates Redis losing its data (FLUSHDB, a restart without persistence) for this context's keys only: the server is shared. */
async function loseQueueData(ctx: TestContext): Promise<void> {
  await deleteQueueKeys(ctx.container, ctx.config.QUEUE_PREFIX);
  expect(await ctx.container.redis.keys(`${ctx.config.QUEUE_PREFIX}:*`)).toEqual([]);
}

async function schedulerKeys(queue: Queue): Promise<string[]> {
  return (await queue.getJobSchedulers()).map((s) => s.key).sort();
}

describe('the service keeps its job schedules', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    for (const queue of ctx?.container.queues.all() ?? []) await queue.obliterate({ force: true });
    await ctx?.close();
  });

  it('puts them back after Redis lost them, and their jobs run again', async () => {
    const embedded = await startEmbeddedWorkers(ctx.container, { scheduleCheckMs: 200 });
    try {
      const queue = ctx.container.queues.get('maintenance');
      expect(await schedulerKeys(queue)).toEqual(SCHEDULES);
      await loseQueueData(ctx);
      const lostAt = Date.now();
      await expect.poll(() => schedulerKeys(queue), { timeout: 10_000, interval: 100 }).toEqual(SCHEDULES);
      // The mirror runs again: a mirror.sync job finished after the loss.
      await expect
        .poll(async () => (await queue.getJobs(['completed'])).some((j) => j.name === 'mirror.sync' && (j.finishedOn ?? 0) >= lostAt), {
          timeout: 15_000,
          interval: 100,
        })
        .toBe(true);
    } finally {
      await embedded.close();
    }
  });

  it('puts them back as soon as the connection is ready again, without waiting for the periodic check', async () => {
    const embedded = await startEmbeddedWorkers(ctx.container, { scheduleCheckMs: 3_600_000 });
    try {
      const queue = ctx.container.queues.get('maintenance');
      // A Redis restart without persistence: the data is gone and the connection comes back.
      await loseQueueData(ctx);
      const reconnected = new Promise((resolve) => ctx.container.redis.once('ready', resolve));
      ctx.container.redis.disconnect(true);
      await reconnected;
      await expect.poll(() => schedulerKeys(queue), { timeout: 5_000, interval: 100 }).toEqual(SCHEDULES);
    } finally {
      await embedded.close();
    }
  });

  it('/ready reports the schedules, restores lost ones, and is not ready while they cannot be restored', async () => {
    const { schedules } = ctx.container;
    // A process that does not run the jobs does not schedule them: it only reports.
    await loseQueueData(ctx);
    const bystander = await ctx.app.inject({ url: '/ready' });
    expect(bystander.statusCode).toBe(200);
    expect(bystander.json().dependencies.queues).toMatchObject({ ok: true, kept: false, schedules: [], restored: [], missing: SCHEDULES });
    expect(await schedulerKeys(ctx.container.queues.get('maintenance'))).toEqual([]);

    // The API process keeps them (without a worker here: nothing else must touch the connection).
    schedules.keep(3_600_000);
    try {
      await loseQueueData(ctx);
      const restored = await ctx.app.inject({ url: '/ready' });
      expect(restored.statusCode).toBe(200);
      expect(restored.json().dependencies.queues).toMatchObject({ ok: true, kept: true, schedules: SCHEDULES, restored: SCHEDULES, missing: [] });
      expect(await schedulerKeys(ctx.container.queues.get('maintenance'))).toEqual(SCHEDULES);
      const again = await ctx.app.inject({ url: '/ready' });
      expect(again.json().dependencies.queues).toMatchObject({ ok: true, schedules: SCHEDULES, restored: [] });

      await loseQueueData(ctx);
      ctx.container.redis.disconnect();
      try {
        const down = await ctx.app.inject({ url: '/ready' });
        expect(down.statusCode).toBe(503);
        expect(down.json()).toMatchObject({ status: 'not_ready', dependencies: { queues: { ok: false, kept: true, restored: [] } } });
      } finally {
        await ctx.container.redis.connect();
      }
      await expect.poll(() => schedulerKeys(ctx.container.queues.get('maintenance')), { timeout: 5_000, interval: 100 }).toEqual(SCHEDULES);
      const back = await ctx.app.inject({ url: '/ready' });
      expect(back.statusCode).toBe(200);
      expect(back.json().dependencies.queues).toMatchObject({ ok: true, schedules: SCHEDULES });
    } finally {
      schedules.stop();
    }
  });
});
