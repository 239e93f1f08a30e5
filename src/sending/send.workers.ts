import { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import { applyTransition, findCampaign } from '../campaigns/campaign.repository.js';
import { startFeedbackProcessing, type FeedbackProcessing } from '../feedback/feedback.loop.js';
import type { JobHandlers } from '../jobs/job-types.js';
import type { JobQueues } from '../jobs/queues.js';
import type { ListService } from '../lists/list.service.js';
import { createQueueWorker } from '../jobs/worker.js';
import type { Metrics } from '../ops/metrics.js';
import { BatchSender, type GatewaySource } from './batch.sender.js';
import { Reconciler } from './reconciler.js';
import { SendDispatch } from './send.dispatch.js';
import { SendThrottle } from './throttle.js';

const SEND_JOB_STALL = { lockDuration: 10_000, stalledInterval: 5_000 };

export interface SendWorkerDeps {
  config: Config;
  logger: Logger;
  db: Db;
  queues: JobQueues;
  gateways: GatewaySource;
  /** Opt-out replies go on `opt_out` through it. */
  lists: Pick<ListService, 'addEntries' | 'removeEntry'>;
  metrics?: Pick<Metrics, 'messages'>;
  now?: () => Date;
}

export interface SendWorkers {
  worker: Worker;
  reconciler: Reconciler;
  /** Receipts and replies applied by this process, in turn with every other one. */
  feedback: FeedbackProcessing;
  close(): Promise<void>;
}

/** Handlers of the `send` queue: Postgres, Redis and gateways only, so any process on any host can run them. */
export function sendHandlers(deps: { db: Db; sender: BatchSender; dispatch: SendDispatch }): JobHandlers<'send'> {
  return {
    'send.batch': async ({ campaignId, batch }) => deps.sender.sendBatch(campaignId, batch),
    'campaign.start': async ({ campaignId }) => {
      const started = await applyTransition(deps.db, campaignId, 'start', 'system:scheduler');
      const campaign = started ?? (await findCampaign(deps.db, campaignId));
      if (campaign?.status === 'sending') await deps.dispatch.enqueueOwed(campaign);
      return { started: Boolean(started) };
    },
  };
}

/**
 * The send side of a process: a BullMQ worker on the `send` queue and the reconciler. Started by
 * `npm run worker` (as many processes as wanted) and, for the one-machine default, inside the API.
 */
export async function startSendWorkers(deps: SendWorkerDeps): Promise<SendWorkers> {
  const { config, logger, db, queues } = deps;
  // The throttle polls while it waits: its own connection keeps that off the workers' one.
  const throttleRedis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const throttle = new SendThrottle({ redis: throttleRedis, prefix: `${config.QUEUE_PREFIX}:throttle` });
  const sender = new BatchSender({ db, config, gateways: deps.gateways, throttle, logger, ...(deps.metrics ? { metrics: deps.metrics } : {}), ...(deps.now ? { now: deps.now } : {}) });
  const dispatch = new SendDispatch({ db, queues });
  const workerRedis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const worker = createQueueWorker({
    queue: 'send',
    connection: workerRedis,
    prefix: config.QUEUE_PREFIX,
    handlers: sendHandlers({ db, sender, dispatch }),
    logger,
    concurrency: config.SEND_CONCURRENCY,
    // A send job may run twice (claims are guarded by status), so a dead worker's batches are
    // taken over within ~15 s instead of BullMQ's minute, during which its campaign stalls.
    stall: SEND_JOB_STALL,
  });
  await worker.waitUntilReady();
  const reconciler = new Reconciler({ db, dispatch, logger, sendingTimeoutSeconds: config.SENDING_TIMEOUT_SECONDS, ...(deps.now ? { now: deps.now } : {}) });
  reconciler.start(config.RECONCILE_INTERVAL_MS);
  const feedback = startFeedbackProcessing({ db, lists: deps.lists, config, logger });
  logger.info({ concurrency: config.SEND_CONCURRENCY }, 'send workers started');
  return {
    worker,
    reconciler,
    feedback,
    async close() {
      sender.stop();
      await reconciler.stop();
      await feedback.close();
      await worker.close();
      throttleRedis.disconnect();
      workerRedis.disconnect();
    },
  };
}
