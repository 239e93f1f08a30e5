import type { Db } from '../db/kysely.js';
import type { JobQueues } from '../jobs/queues.js';
import { scanLedger } from './ledger.repository.js';

/** Job ids are derived, so adding a batch that is already queued, delayed or running is a no-op. */
export function batchJobId(campaignId: string, batch: number): string {
  return `send-${campaignId}-${batch}`;
}

const BATCH_JOB_OPTIONS = {
  // A retryable gateway answer (throttled, not connected) leaves rows queued and fails the job;
  // it comes back with backoff. After the last attempt the reconciler re-adds what is still owed.
  attempts: 8,
  backoff: { type: 'exponential', delay: 1000 },
  // Gone once done, so the reconciler can add the id again if rows of the batch are still owed
  // (a pause, a resume); the ledger, not Redis, is the record of what happened.
  removeOnComplete: true,
  removeOnFail: true,
} as const;

/**
 * Puts a campaign's owed work on the send queue. The ledger says what is owed (batches that still
 * hold queued rows); BullMQ only carries it, so calling this again at any time is safe.
 */
export class SendDispatch {
  constructor(
    private readonly deps: { db: Db; queues: JobQueues },
  ) {}

  /** Adds a job for every batch of the campaign that still holds queued rows; returns how many are owed. */
  async enqueueOwed(campaign: { id: string; batch_size: number | null }): Promise<number> {
    const batchSize = campaign.batch_size ?? 500;
    const { owedBatches } = await scanLedger(this.deps.db, campaign.id, { batchSize });
    await this.enqueueBatches(campaign.id, owedBatches);
    return owedBatches.length;
  }

  async enqueueBatches(campaignId: string, batches: readonly number[]): Promise<void> {
    await this.deps.queues.enqueueBulk(
      'send.batch',
      batches.map((batch) => ({ payload: { campaignId, batch }, options: { ...BATCH_JOB_OPTIONS, jobId: batchJobId(campaignId, batch) } })),
    );
  }

  /** A delayed start at `at` (the reconciler starts it too if Redis loses the job). */
  async scheduleStart(campaignId: string, at: Date): Promise<void> {
    await this.deps.queues.enqueue(
      'campaign.start',
      { campaignId },
      { jobId: `start-${campaignId}`, delay: Math.max(0, at.getTime() - Date.now()), removeOnComplete: true, removeOnFail: true },
    );
  }
}
