import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import type { ListService } from '../lists/list.service.js';
import { ReceiptProcessor } from './receipt.processor.js';
import { replyKeywords } from './reply.keywords.js';
import { ReplyProcessor } from './reply.processor.js';

export type FeedbackConfig = Pick<
  Config,
  'RECEIPT_EXPIRY_HOURS' | 'RECEIPT_MATCH_GRACE_SECONDS' | 'OPT_OUT_KEYWORDS' | 'RESUBSCRIBE_KEYWORDS' | 'FEEDBACK_INTERVAL_MS' | 'MSISDN_PATTERN'
>;

export interface FeedbackDeps {
  db: Db;
  lists: Pick<ListService, 'addEntries' | 'removeEntry'>;
  config: FeedbackConfig;
  logger: Logger;
}

export interface FeedbackProcessors {
  receipts: ReceiptProcessor;
  replies: ReplyProcessor;
}

export function createFeedbackProcessors({ db, lists, config, logger }: FeedbackDeps): FeedbackProcessors {
  const log = logger.child({ component: 'feedback' });
  return {
    receipts: new ReceiptProcessor({ db, logger: log, graceSeconds: config.RECEIPT_MATCH_GRACE_SECONDS, expiryHours: config.RECEIPT_EXPIRY_HOURS }),
    replies: new ReplyProcessor({
      db,
      lists,
      keywords: replyKeywords(config.OPT_OUT_KEYWORDS, config.RESUBSCRIBE_KEYWORDS),
      msisdnPattern: config.MSISDN_PATTERN,
      logger: log,
    }),
  };
}

export interface FeedbackProcessing extends FeedbackProcessors {
  /** One round now: receipts, then replies (and the expiry pass when it is due). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

// Expiry scans ledger partitions (status is unindexed): every few minutes, not every tick.
const EXPIRY_EVERY_MS = 5 * 60_000;

/**
 * The feedback loop of a process (every send worker process, and the API when it embeds them):
 * applies pending receipts and replies every FEEDBACK_INTERVAL_MS, and expires overdue messages.
 * Postgres only. The processes share the work through advisory locks: each round, one of them
 * applies what is pending and the others find the lock taken and skip.
 */
export function startFeedbackProcessing(deps: FeedbackDeps & { expiryEveryMs?: number }): FeedbackProcessing {
  const processors = createFeedbackProcessors(deps);
  const logger = deps.logger.child({ component: 'feedback' });
  const expiryEveryMs = deps.expiryEveryMs ?? EXPIRY_EVERY_MS;
  let lastExpiry = 0;
  let running: Promise<void> | undefined;
  let closed = false;

  const round = async (): Promise<void> => {
    const receipts = await processors.receipts.applyPending();
    if (receipts && receipts.receipts > 0) logger.debug(receipts, 'receipts applied');
    const replies = await processors.replies.processPending();
    if (replies && replies.replies > 0) logger.info({ ...replies }, 'replies processed');
    if (Date.now() - lastExpiry >= expiryEveryMs) {
      lastExpiry = Date.now();
      const expiry = await processors.receipts.expireOverdue();
      if (expiry && expiry.expired > 0) logger.info(expiry, 'messages with no receipt expired');
    }
  };
  const tick = (): Promise<void> => {
    running ??= round()
      .catch((error: unknown) => logger.error({ err: error }, 'feedback round failed'))
      .finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => {
    if (!closed) void tick();
  }, deps.config.FEEDBACK_INTERVAL_MS);
  timer.unref();
  return {
    ...processors,
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
