import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import type { ReplyKind } from '../db/schema.js';
import { isAppError } from '../http/errors.js';
import type { ListService } from '../lists/list.service.js';
import type { Actor } from '../security/roles.js';
import { normalisePhoneNumber } from '../uploads/phone-numbers.js';
import { takeFeedbackLock } from './feedback.lock.js';
import { classifyReply, normaliseReply, type ReplyKeywords } from './reply.keywords.js';
import { claimMo, insertMo, insertReplies, latestCampaignsFor, type ClaimedMo, type NewMo, type NewReply } from './reply.repository.js';

export interface ReplyProcessorOptions {
  db: Db;
  lists: Pick<ListService, 'addEntries' | 'removeEntry'>;
  keywords: ReplyKeywords;
  /** `config.MSISDN_PATTERN`: MO senders are normalised to it (`+86…`, `86…` dropped). */
  msisdnPattern: string;
  logger: Logger;
  /** MO messages per transaction (default 2,000). */
  batchSize?: number;
}

export interface ReplyPass {
  replies: number;
  /** Rows written to campaign_replies (an MO processed before is not written again). */
  recorded: number;
  optOuts: number;
  resubscribed: number;
  responses: number;
  /** Replies from numbers no campaign had messaged. */
  unattributed: number;
}

const FEEDBACK_ACTOR: Actor = { name: 'system:feedback', role: 'admin' };
const OPT_OUT_LIST = 'opt_out';

function emptyPass(): ReplyPass {
  return { replies: 0, recorded: 0, optOuts: 0, resubscribed: 0, responses: 0, unattributed: 0 };
}

function addPass(total: ReplyPass, pass: ReplyPass): ReplyPass {
  for (const key of Object.keys(total) as Array<keyof ReplyPass>) total[key] += pass[key];
  return total;
}

/**
 * Replies (MO) → opt-outs and campaign responses. Each reply is normalised and classified; an
 * opt-out keyword puts the number on `opt_out` through the list service (so the send-time check and
 * the DuckDB mirror see it) with the campaign that last messaged it as the reason, START takes it
 * off again, and every reply is recorded against that campaign, once per MO message.
 */
export class ReplyProcessor {
  private readonly batchSize: number;
  private readonly pattern: RegExp;

  constructor(private readonly options: ReplyProcessorOptions) {
    this.batchSize = options.batchSize ?? 2_000;
    this.pattern = new RegExp(options.msisdnPattern);
  }

  /** Processes every pending MO message unless another process is at it (undefined). */
  async processPending(): Promise<ReplyPass | undefined> {
    const total = emptyPass();
    for (;;) {
      const pass = await this.options.db.transaction().execute(async (trx) => {
        if (!(await takeFeedbackLock(trx, 'replies', false))) return undefined;
        return this.processBatch(trx, { limit: this.batchSize });
      });
      if (pass === undefined) return total.replies > 0 ? total : undefined;
      addPass(total, pass);
      if (pass.replies < this.batchSize) return total;
    }
  }

  /** Stores replies (as MO messages) and processes them before answering. */
  async ingest(messages: readonly NewMo[]): Promise<ReplyPass> {
    const total = emptyPass();
    for (let i = 0; i < messages.length; i += this.batchSize) {
      // Stored inside the locked transaction: the background loop cannot see (and take) them before
      // this pass does, so the answer counts exactly what this request brought.
      const pass = await this.options.db.transaction().execute(async (trx) => {
        await takeFeedbackLock(trx, 'replies', true);
        const ids = await insertMo(trx, messages.slice(i, i + this.batchSize));
        return this.processBatch(trx, { ids });
      });
      addPass(total, pass);
    }
    return total;
  }

  private async processBatch(trx: Db, which: { limit: number } | { ids: readonly number[] }): Promise<ReplyPass> {
    const claimed = await claimMo(trx, which);
    const pass = emptyPass();
    pass.replies = claimed.length;
    if (claimed.length === 0) return pass;
    const replies = claimed.map((mo) => this.read(mo));
    const attribution = await latestCampaignsFor(
      trx,
      replies.map((r) => ({ key: r.moId, msisdn: r.msisdn, at: r.receivedAt })),
    );
    for (const reply of replies) {
      const campaign = attribution.get(reply.moId);
      reply.campaignId = campaign?.campaignId ?? null;
      reply.customerId = campaign?.customerId ?? null;
      if (!campaign) pass.unattributed++;
      if (reply.kind === 'response') pass.responses++;
    }

    // Only a number's last keyword in the batch decides its list state (TD then START: subscribed).
    const lastKeyword = new Map<string, NewReply>();
    for (const reply of replies) if (reply.kind !== 'response') lastKeyword.set(reply.msisdn, reply);
    const optOutsByReason = new Map<string, string[]>();
    const resubscribe: string[] = [];
    for (const [msisdn, reply] of lastKeyword) {
      if (!this.pattern.test(msisdn)) {
        this.options.logger.warn({ kind: reply.kind, gateway: reply.gateway }, 'keyword reply from a number outside MSISDN_PATTERN: recorded, list unchanged');
        continue;
      }
      if (reply.kind === 'start') {
        resubscribe.push(msisdn);
        continue;
      }
      const campaign = attribution.get(reply.moId);
      const reason = campaign
        ? `replied ${reply.normalised} to campaign "${campaign.campaignName}" (${campaign.campaignId})`
        : `replied ${reply.normalised} (no campaign had messaged the number)`;
      const numbers = optOutsByReason.get(reason);
      if (numbers) numbers.push(msisdn);
      else optOutsByReason.set(reason, [msisdn]);
    }
    for (const [reason, numbers] of optOutsByReason) {
      await this.options.lists.addEntries(OPT_OUT_LIST, numbers, { reason, source: 'reply' }, FEEDBACK_ACTOR);
      pass.optOuts += numbers.length;
    }
    // START is rare (a customer undoing a TD): one audited removal per number is fine here.
    for (const msisdn of resubscribe) {
      try {
        await this.options.lists.removeEntry(OPT_OUT_LIST, msisdn, FEEDBACK_ACTOR);
        pass.resubscribed++;
      } catch (error) {
        if (!(isAppError(error) && error.code === 'NOT_FOUND')) throw error;
      }
    }
    pass.recorded = await insertReplies(trx, replies);
    return pass;
  }

  private read(mo: ClaimedMo): NewReply {
    const normalised = normaliseReply(mo.text);
    const kind: ReplyKind = classifyReply(normalised, this.options.keywords);
    return {
      moId: mo.id,
      campaignId: null,
      msisdn: normalisePhoneNumber(mo.msisdn, this.pattern) ?? mo.msisdn.trim(),
      customerId: null,
      gateway: mo.gateway,
      text: mo.text,
      normalised,
      kind,
      receivedAt: mo.receivedAt,
    };
  }
}
