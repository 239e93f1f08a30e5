import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import { takeFeedbackLock } from './feedback.lock.js';
import {
  applyMessageOutcomes,
  campaignsWithOverdueSends,
  claimReceipts,
  closeReceipts,
  expireOverdueMessages,
  insertReceipts,
  isFinalStatus,
  planForIndexProbes,
  settleUnmatched,
  type NewReceipt,
} from './receipt.repository.js';

export interface ReceiptProcessorOptions {
  db: Db;
  logger: Logger;
  /** A receipt whose gateway message id stays unknown this long goes to the dead letters. */
  graceSeconds: number;
  /** Submitted messages with no final receipt after this many hours become `expired`. */
  expiryHours: number;
  /** Receipts per transaction (default 10,000). */
  batchSize?: number;
  /** An unmatched receipt is tried again after this long (default 5 s). */
  retryAfterSeconds?: number;
}

/** What applying receipts did. */
export interface ReceiptPass {
  /** Receipts processed. */
  receipts: number;
  /** Matched to a message part (final or intermediate). */
  matched: number;
  /** Ledger rows that moved. */
  delivered: number;
  failed: number;
  /** Unknown message id, tried again later (a receipt that overtook its submit response). */
  awaitingSubmit: number;
  deadLettered: number;
}

const TERMINAL_CAMPAIGN_STATES = new Set(['completed', 'cancelled', 'failed']);

function emptyPass(): ReceiptPass {
  return { receipts: 0, matched: 0, delivered: 0, failed: 0, awaitingSubmit: 0, deadLettered: 0 };
}

function addPass(total: ReceiptPass, pass: ReceiptPass): ReceiptPass {
  for (const key of Object.keys(total) as Array<keyof ReceiptPass>) total[key] += pass[key];
  return total;
}

/**
 * Delivery receipts → ledger, a batch per transaction: claim pending receipts, join them to their
 * message parts, recompute the touched messages' outcomes from the stored final receipts and move
 * the ledger rows; unmatched receipts wait for their submit response, then for the dead letters.
 */
export class ReceiptProcessor {
  private readonly batchSize: number;
  private readonly retryAfterSeconds: number;

  constructor(private readonly options: ReceiptProcessorOptions) {
    this.batchSize = options.batchSize ?? 10_000;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }

  /**
   * Applies every due receipt, batch after batch, unless another process is applying them
   * (undefined: that process will get through them).
   */
  async applyPending(): Promise<ReceiptPass | undefined> {
    const total = emptyPass();
    for (;;) {
      const pass = await this.options.db.transaction().execute(async (trx) => {
        if (!(await takeFeedbackLock(trx, 'receipts', false))) return undefined;
        return this.applyBatch(trx, { limit: this.batchSize });
      });
      if (pass === undefined) return total.receipts > 0 ? total : undefined;
      addPass(total, pass);
      if (pass.receipts < this.batchSize) return total;
    }
  }

  /** Stores receipts (as a gateway reported them) and applies them before answering. */
  async ingest(receipts: readonly NewReceipt[]): Promise<ReceiptPass> {
    const total = emptyPass();
    for (let i = 0; i < receipts.length; i += this.batchSize) {
      // Stored inside the locked transaction: the background loop cannot see (and take) them before
      // this pass does, so the answer counts exactly what this request brought.
      const pass = await this.options.db.transaction().execute(async (trx) => {
        await takeFeedbackLock(trx, 'receipts', true);
        const ids = await insertReceipts(trx, receipts.slice(i, i + this.batchSize));
        return this.applyBatch(trx, { ids });
      });
      addPass(total, pass);
    }
    return total;
  }

  /**
   * `submitted → expired` past the expiry, campaign by campaign. A campaign that sends no more and
   * has nothing left submitted is closed, so later passes do not scan its ledger again.
   */
  async expireOverdue(): Promise<{ expired: number; closed: number } | undefined> {
    const { db, expiryHours } = this.options;
    return db.transaction().execute(async (trx) => {
      if (!(await takeFeedbackLock(trx, 'receipts', false))) return undefined;
      const outcome = { expired: 0, closed: 0 };
      for (const campaign of await campaignsWithOverdueSends(trx, expiryHours)) {
        const { expired, remaining } = await expireOverdueMessages(trx, campaign.id, expiryHours);
        outcome.expired += expired;
        if (remaining === 0 && TERMINAL_CAMPAIGN_STATES.has(campaign.status)) {
          await closeReceipts(trx, campaign.id);
          outcome.closed++;
        }
      }
      return outcome;
    });
  }

  private async applyBatch(trx: Db, which: { limit: number } | { ids: readonly number[] }): Promise<ReceiptPass> {
    await planForIndexProbes(trx);
    const claimed = await claimReceipts(trx, which);
    const pass = emptyPass();
    pass.receipts = claimed.length;
    const unmatched: number[] = [];
    const touched = new Map<string, number[]>();
    for (const receipt of claimed) {
      if (receipt.campaignId === null || receipt.seq === null) {
        unmatched.push(receipt.id);
        continue;
      }
      pass.matched++;
      // An intermediate receipt (ACCEPTD, ENROUTE) is stored and stamped, and moves nothing.
      if (!isFinalStatus(receipt.status)) continue;
      const seqs = touched.get(receipt.campaignId);
      if (seqs) seqs.push(receipt.seq);
      else touched.set(receipt.campaignId, [receipt.seq]);
    }
    // One statement per campaign: the ledger is partitioned by campaign, and a literal campaign id
    // lets the planner prune to its partition instead of probing every one.
    for (const [campaignId, seqs] of touched) {
      const changes = await applyMessageOutcomes(trx, campaignId, seqs);
      pass.delivered += changes.delivered;
      pass.failed += changes.failed;
    }
    const settled = await settleUnmatched(trx, unmatched, { graceSeconds: this.options.graceSeconds, retryAfterSeconds: this.retryAfterSeconds });
    pass.awaitingSubmit = settled.deferred;
    pass.deadLettered = settled.deadLettered;
    if (settled.deadLettered > 0) this.options.logger.warn({ deadLettered: settled.deadLettered }, 'receipts with unknown message ids moved to the dead letters');
    return pass;
  }
}
