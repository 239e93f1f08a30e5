import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { JOB_TYPES, jobNamesOfQueue, type JobHandlers, type JobName, type QueueName } from './job-types.js';

export class MissingJobHandlerError extends Error {
  constructor(
    readonly queue: QueueName,
    readonly missing: string[],
  ) {
    super(`worker for queue "${queue}" has no handler for job type(s): ${missing.join(', ')}`);
    this.name = 'MissingJobHandlerError';
  }
}

/**
 * Thrown by a handler that cannot do its work yet (a send window closed): the job goes back to the
 * delayed set until `until`, keeping its id and not counting as a failed attempt.
 */
export class DelayJobUntil extends Error {
  constructor(readonly until: Date) {
    super(`job delayed until ${until.toISOString()}`);
    this.name = 'DelayJobUntil';
  }
}

/**
 * Refuses a handler table that leaves a job of the queue unhandled (a job nobody processes would
 * sit in Redis until someone noticed) or handles a job that belongs elsewhere.
 */
export function assertHandlersComplete(queue: QueueName, handlers: Partial<Record<string, unknown>>): void {
  const expected = jobNamesOfQueue(queue);
  const missing = expected.filter((name) => typeof handlers[name] !== 'function');
  if (missing.length > 0) throw new MissingJobHandlerError(queue, missing);
  const stray = Object.keys(handlers).filter((name) => !(expected as string[]).includes(name));
  if (stray.length > 0) throw new Error(`worker for queue "${queue}" has handlers for job types of other queues or none: ${stray.join(', ')}`);
}

export interface QueueWorkerOptions<Q extends QueueName> {
  queue: Q;
  connection: Redis;
  prefix: string;
  handlers: JobHandlers<Q>;
  logger: Logger;
  concurrency?: number;
  /**
   * How soon the jobs of a worker that died are taken over: its lock lapses after `lockDuration`
   * and a check every `stalledInterval` hands the job on (BullMQ's defaults: 30 s each).
   */
  stall?: { lockDuration: number; stalledInterval: number };
}

/**
 * A BullMQ worker for one queue that validates each payload against its job type before the
 * handler sees it. A job of an unknown type or with a bad payload fails at once without retries:
 * retrying cannot make it valid.
 */
export function createQueueWorker<Q extends QueueName>(options: QueueWorkerOptions<Q>): Worker {
  const { queue, handlers, logger } = options;
  assertHandlersComplete(queue, handlers as Partial<Record<string, unknown>>);
  const table = handlers as unknown as Record<string, (payload: unknown, job: unknown) => Promise<unknown>>;
  const worker = new Worker(
    queue,
    async (job: Job, token?: string) => {
      const type = JOB_TYPES[job.name as JobName];
      if (!type || type.queue !== queue) throw new UnrecoverableError(`job type "${job.name}" does not belong to queue "${queue}"`);
      const payload = type.payload.safeParse(job.data);
      if (!payload.success) throw new UnrecoverableError(`payload of ${job.name} is not valid: ${payload.error.message}`);
      try {
        return await table[job.name]!(payload.data, {
          id: job.id ?? '',
          name: job.name as JobName,
          attempt: job.attemptsMade + 1,
          log: (message: string) => job.log(message),
        });
      } catch (error) {
        if (!(error instanceof DelayJobUntil)) throw error;
        await job.moveToDelayed(error.until.getTime(), token);
        throw new DelayedError();
      }
    },
    { connection: options.connection, prefix: options.prefix, concurrency: options.concurrency ?? 1, ...options.stall },
  );
  worker.on('failed', (job, error) => logger.warn({ queue, jobId: job?.id, job: job?.name, err: error }, 'job failed'));
  worker.on('error', (error) => logger.error({ queue, err: error }, 'worker error'));
  return worker;
}
