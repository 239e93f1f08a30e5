import type { Job, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedWorkers } from '../../src/jobs/embedded.js';
import { JOB_TYPES, jobNamesOfQueue, type JobHandlers } from '../../src/jobs/job-types.js';
import { assertHandlersComplete, createQueueWorker, MissingJobHandlerError } from '../../src/jobs/worker.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/**
 * The first finished (completed or failed) job of the queue that matches. Polls the queue rather
 * than listening for events, so a job that finished before the call is still found.
 */
async function finishedJob(queue: Queue, match: (job: Job) => boolean): Promise<{ job: Job; error?: string }> {
  for (;;) {
    const jobs = await queue.getJobs(['completed', 'failed']);
    const job = jobs.find(match);
    if (job) return { job, error: job.failedReason || undefined };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('job types, queues and the embedded maintenance worker', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => {
    for (const queue of ctx?.container.queues.all() ?? []) await queue.obliterate({ force: true });
    await ctx?.close();
  });

  it('refuses a worker that leaves a job type of its queue without a handler', () => {
    expect(jobNamesOfQueue('maintenance')).toContain('mirror.sync');
    const incomplete = {} as JobHandlers<'maintenance'>;
    expect(() => assertHandlersComplete('maintenance', incomplete)).toThrow(MissingJobHandlerError);
    expect(() => assertHandlersComplete('maintenance', incomplete)).toThrow(/mirror\.sync/);
    expect(() =>
      createQueueWorker({
        queue: 'maintenance',
        connection: ctx.container.redis,
        prefix: ctx.config.QUEUE_PREFIX,
        handlers: incomplete,
        logger: ctx.container.logger,
      }),
    ).toThrow(/no handler for job type\(s\): mirror\.sync/);
    // A handler for a job that is not the queue's is refused too: it would never run.
    const stray = {
      'mirror.sync': async () => undefined,
      'targeting.prune': async () => undefined,
      'send.batch': async () => undefined,
    } as unknown as JobHandlers<'maintenance'>;
    expect(() => assertHandlersComplete('maintenance', stray)).toThrow(/send\.batch/);
  });

  it('validates payloads when enqueuing', async () => {
    await expect(ctx.container.queues.enqueue('mirror.sync', { unexpected: true } as never)).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('runs the repeatable mirror.sync job through the real mirror, under a deterministic id, scheduled once', async () => {
    const embedded = await startEmbeddedWorkers(ctx.container);
    try {
      const queue = ctx.container.queues.get(JOB_TYPES['mirror.sync'].queue);
      const finished = await finishedJob(queue, (job) => job.name === 'mirror.sync');
      expect(finished.error).toBeUndefined();
      expect(finished.job.id).toMatch(/^repeat:mirror\.sync:\d+$/);
      // The handler's answer is the mirror's report: the job really synced lists and contact history.
      expect(finished.job.returnvalue).toEqual(expect.objectContaining({ lists: expect.anything(), contactHistory: expect.anything() }));

      // A second process starting up upserts the same schedule instead of adding one.
      await queue.upsertJobScheduler('mirror.sync', { every: 30_000 }, { name: 'mirror.sync', data: {} });
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual(['mirror.sync', 'targeting.prune']);
      expect(schedulers.find((s) => s.key === 'mirror.sync')!.every).toBe(30_000);
    } finally {
      await embedded.close();
    }
    // Closing the workers leaves the container's shared Redis connection usable.
    expect(await ctx.container.redis.ping()).toBe('PONG');
  });

  it('fails a job with a bad payload at once, without retrying it', async () => {
    const embedded = await startEmbeddedWorkers(ctx.container);
    try {
      const queue = ctx.container.queues.get('maintenance');
      // Added past `enqueue` (as the dashboard's "add job" can), so only the worker's check stands in the way.
      await queue.add('mirror.sync', { surprise: 1 }, { jobId: 'bad-payload-1', attempts: 5 });
      const { job, error } = await finishedJob(queue, (j) => j.id === 'bad-payload-1');
      expect(error).toMatch(/payload of mirror\.sync is not valid/);
      expect(job.attemptsMade).toBe(1);
      expect(await job.getState()).toBe('failed');
    } finally {
      await embedded.close();
    }
  });
});
