import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { JOB_TYPES, REPEATABLE_JOBS, type RepeatableJob } from './job-types.js';
import type { JobQueues } from './queues.js';

/** What `/ready` reports of the service's own schedules. */
export interface ScheduleState {
  /** False when they could not be read, or when this process keeps them and one is missing. */
  ok: boolean;
  /** Whether this process keeps them (puts back lost ones); only the API process does. */
  kept: boolean;
  /** Schedules found in Redis, or put back by this check. */
  present: string[];
  /** Schedules that were missing and were put back by this check. */
  restored: string[];
  /** Schedules missing from Redis and not put back (this process does not keep them). */
  missing: string[];
  error?: string;
}

/** How often the API process looks for lost schedules; a lost one is back within this time. */
export const SCHEDULE_CHECK_MS = 30_000;

/**
 * The service's own repeatable jobs (`REPEATABLE_JOBS`). Their schedules live only in Redis, so
 * losing its data (FLUSHDB, a restart without persistence) loses them silently: no connection
 * breaks, nothing fails, the jobs simply never run again. The process that keeps them (the API,
 * which runs those jobs) looks for them every `SCHEDULE_CHECK_MS` and whenever the connection
 * becomes ready again, and upserts the missing ones; `/ready` runs the same check.
 */
export class JobSchedules {
  private timer: NodeJS.Timeout | undefined;
  private kept = false;
  private inFlight: Promise<ScheduleState> | undefined;
  private readonly onReady = () => void this.checkInBackground();

  constructor(
    private readonly deps: { queues: JobQueues; redis: Redis; logger: Logger; jobs?: readonly RepeatableJob[] },
  ) {}

  private get jobs(): readonly RepeatableJob[] {
    return this.deps.jobs ?? REPEATABLE_JOBS;
  }

  /** Writes every schedule as declared (at start, so a changed interval takes effect). */
  async upsertAll(): Promise<void> {
    for (const job of this.jobs) await this.upsert(job);
  }

  /**
   * Finds each schedule and says what it found; while kept, puts back the missing ones (a process
   * that does not run their jobs must not schedule them). One check at a time.
   */
  check(): Promise<ScheduleState> {
    this.inFlight ??= this.findAndRestore().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Checks every `everyMs` and on every (re)connection until `stop()`. */
  keep(everyMs = SCHEDULE_CHECK_MS): void {
    this.stop();
    this.kept = true;
    this.deps.redis.on('ready', this.onReady);
    this.timer = setInterval(() => void this.checkInBackground(), everyMs).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.kept = false;
    this.deps.redis.off('ready', this.onReady);
  }

  private async checkInBackground(): Promise<void> {
    const state = await this.check();
    if (!state.ok) this.deps.logger.warn({ error: state.error }, 'job schedules could not be checked');
  }

  private async findAndRestore(): Promise<ScheduleState> {
    const kept = this.kept;
    const present: string[] = [];
    const restored: string[] = [];
    const missing: string[] = [];
    try {
      for (const job of this.jobs) {
        const found = await this.deps.queues.get(JOB_TYPES[job.name].queue).getJobScheduler(job.name);
        if (found) present.push(job.name);
        else if (kept) {
          await this.upsert(job);
          restored.push(job.name);
          present.push(job.name);
        } else missing.push(job.name);
      }
    } catch (error) {
      return { ok: false, kept, present, restored, missing, error: (error as Error).message };
    }
    if (restored.length > 0) this.deps.logger.warn({ restored }, 'job schedules were missing from Redis; restored');
    return { ok: true, kept, present, restored, missing };
  }

  private async upsert({ name, everyMs, data }: RepeatableJob): Promise<void> {
    await this.deps.queues.get(JOB_TYPES[name].queue).upsertJobScheduler(name, { every: everyMs }, { name, data });
  }
}
