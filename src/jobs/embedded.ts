import type { Worker } from 'bullmq';
import type { Container } from '../container.js';
import { REPEATABLE_JOBS } from './job-types.js';
import { maintenanceHandlers } from './maintenance.handlers.js';
import { createQueueWorker } from './worker.js';

export interface EmbeddedWorkers {
  workers: Worker[];
  close(): Promise<void>;
}

/**
 * Starts the workers that must run inside the API process because their jobs touch DuckDB, which
 * only this process may open, and upserts the service's own schedules and keeps them (puts back
 * any that Redis lost). Throws before anything runs if a job of the queue has no handler.
 */
export async function startEmbeddedWorkers(
  container: Container,
  options: { scheduleCheckMs?: number } = {},
): Promise<EmbeddedWorkers> {
  const { config, redis, logger, schedules } = container;
  const maintenance = createQueueWorker({
    queue: 'maintenance',
    connection: redis,
    prefix: config.QUEUE_PREFIX,
    handlers: maintenanceHandlers(container),
    logger,
  });
  await maintenance.waitUntilReady();
  await schedules.upsertAll();
  schedules.keep(options.scheduleCheckMs);
  logger.info({ queues: ['maintenance'], schedules: REPEATABLE_JOBS.map((j) => j.name) }, 'embedded workers started');
  const workers = [maintenance];
  return {
    workers,
    async close() {
      schedules.stop();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
