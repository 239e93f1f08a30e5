import { z } from 'zod';

/**
 * Every BullMQ queue and every job that travels on it, with its payload schema: the one place a
 * job type is declared. Workers refuse to start unless they handle every job of their queue, and
 * payloads are validated on both ends (enqueue and process).
 *
 * To add a job: add its entry to `JOB_TYPES` (and its queue to `QUEUE_NAMES` if new), then give
 * the worker of that queue a handler; the compiler and the start-up check both insist.
 */
export const QUEUE_NAMES = ['maintenance', 'send'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export const JOB_TYPES = {
  /** Brings the DuckDB mirror of lists and contact history up to date with Postgres. */
  'mirror.sync': { queue: 'maintenance', payload: z.object({}).strict() },
  /** Drops the DuckDB results of targeting previews older than TARGETING_RETENTION_DAYS. */
  'targeting.prune': { queue: 'maintenance', payload: z.object({}).strict() },
  /**
   * Sends one batch of a campaign: ledger rows [batch × batch_size, (batch + 1) × batch_size).
   * Job id `send-<campaign>-<batch>`, so a batch is queued at most once at a time.
   */
  'send.batch': { queue: 'send', payload: z.object({ campaignId: z.uuid(), batch: z.number().int().min(0) }).strict() },
  /** A scheduled campaign's time has come: start sending (the reconciler also starts overdue ones). */
  'campaign.start': { queue: 'send', payload: z.object({ campaignId: z.uuid() }).strict() },
} as const satisfies Record<string, { queue: QueueName; payload: z.ZodType }>;

export type JobName = keyof typeof JOB_TYPES;
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_TYPES)[N]['payload']>;
export type JobsOfQueue<Q extends QueueName> = { [N in JobName]: (typeof JOB_TYPES)[N]['queue'] extends Q ? N : never }[JobName];

/** What a handler sees besides its payload (kept free of BullMQ types so services can be handlers). */
export interface JobContext {
  id: string;
  name: JobName;
  attempt: number;
  log(message: string): Promise<unknown>;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, job: JobContext) => Promise<unknown>;
export type JobHandlers<Q extends QueueName> = { [N in JobsOfQueue<Q>]: JobHandler<N> };

/**
 * Jobs the service schedules for itself. The scheduler id is the job name, so every process
 * starting up upserts the same schedule instead of adding another one, and each run's job id is
 * derived from it (BullMQ: `repeat:<scheduler id>:<time>`), so a run is never queued twice.
 */
export type RepeatableJob = { [N in JobName]: { name: N; everyMs: number; data: JobPayload<N> } }[JobName];
export const REPEATABLE_JOBS: readonly RepeatableJob[] = [
  { name: 'mirror.sync', everyMs: 30_000, data: {} },
  { name: 'targeting.prune', everyMs: 3_600_000, data: {} },
];

export function jobNamesOfQueue(queue: QueueName): JobName[] {
  return (Object.keys(JOB_TYPES) as JobName[]).filter((name) => JOB_TYPES[name].queue === queue);
}
