import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { AppError, formatJsonPath } from '../http/errors.js';
import { JOB_TYPES, QUEUE_NAMES, type JobName, type JobPayload, type QueueName } from './job-types.js';

/**
 * One BullMQ queue per queue name, over the container's Redis connection, all under
 * `config.QUEUE_PREFIX`. `enqueue` is the only way code adds a job: it routes the job to its queue
 * and validates the payload against the job's schema.
 */
export class JobQueues {
  private readonly queues: Map<QueueName, Queue>;

  constructor(
    connection: Redis,
    readonly prefix: string,
  ) {
    this.queues = new Map(
      QUEUE_NAMES.map((name) => [
        name,
        new Queue(name, {
          connection,
          prefix,
          // Kept long enough to inspect on the dashboard, short enough that Redis does not fill up.
          defaultJobOptions: { removeOnComplete: { count: 1000, age: 24 * 3600 }, removeOnFail: { count: 5000, age: 7 * 24 * 3600 } },
        }),
      ]),
    );
  }

  get(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  all(): Queue[] {
    return [...this.queues.values()];
  }

  async enqueue<N extends JobName>(name: N, payload: JobPayload<N>, options?: JobsOptions): Promise<string> {
    const parsed = JOB_TYPES[name].payload.safeParse(payload);
    if (!parsed.success) {
      throw new AppError(
        'VALIDATION',
        `Payload of job ${name} is not valid`,
        parsed.error.issues.map((i) => ({ path: formatJsonPath(i.path), message: i.message })),
      );
    }
    const job = await this.get(JOB_TYPES[name].queue).add(name, parsed.data, options);
    return job.id!;
  }

  /** Many jobs of one type in one round trip (BullMQ skips those whose job id already exists). */
  async enqueueBulk<N extends JobName>(name: N, jobs: ReadonlyArray<{ payload: JobPayload<N>; options?: JobsOptions }>): Promise<void> {
    if (jobs.length === 0) return;
    const checked = jobs.map(({ payload, options }) => {
      const parsed = JOB_TYPES[name].payload.safeParse(payload);
      if (!parsed.success) throw new AppError('VALIDATION', `Payload of job ${name} is not valid`);
      return { name, data: parsed.data, ...(options ? { opts: options } : {}) };
    });
    await this.get(JOB_TYPES[name].queue).addBulk(checked);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((q) => q.close()));
  }
}
