import type { Db } from '../db/kysely.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { normaliseMessageId } from '../gateways/smpp/smpp.receipt.js';
import { normalisePhoneNumber } from '../uploads/phone-numbers.js';
import type { FeedbackConfig, FeedbackProcessors } from './feedback.loop.js';
import type { ReceiptPass } from './receipt.processor.js';
import { deadLetterPage, feedbackBacklog, type DeadLetterRow } from './receipt.repository.js';
import type { ReplyPass } from './reply.processor.js';
import type { ReceiptsBody, RepliesBody } from './feedback.schemas.js';

/** Bad numbers named in one 400 (all are counted). */
const PROBLEMS_LISTED = 100;

/**
 * 活动执行反馈 over HTTP: receipts and replies posted by gateways (or operators) are stored like the
 * gateways' own and applied before the answer; dead letters and the backlog are visible.
 */
export class FeedbackService {
  private readonly pattern: RegExp;

  constructor(private readonly deps: { db: Db; processors: FeedbackProcessors; config: FeedbackConfig; now?: () => Date }) {
    this.pattern = new RegExp(deps.config.MSISDN_PATTERN);
  }

  async submitReceipts(body: ReceiptsBody): Promise<ReceiptPass & { received: number }> {
    const receivedAt = this.now();
    const pass = await this.deps.processors.receipts.ingest(
      body.map((r) => ({
        gateway: r.gateway,
        // Compared in the canonical spelling the gateway adapters store (trimmed, lower case, no leading zeros).
        gatewayMessageId: normaliseMessageId(r.gatewayMessageId, 'opaque'),
        status: r.status,
        errorCode: r.errorCode ?? null,
        doneAt: r.doneAt === undefined ? null : new Date(r.doneAt),
        receivedAt,
      })),
    );
    return { ...pass, received: body.length };
  }

  /** Every sender must be a phone number (400 naming `[i].msisdn`, nothing stored). */
  async submitReplies(body: RepliesBody): Promise<ReplyPass & { received: number }> {
    const problems: FieldProblem[] = [];
    let bad = 0;
    const numbers = body.map((r, i) => {
      const msisdn = normalisePhoneNumber(r.msisdn, this.pattern);
      if (msisdn === undefined) {
        bad++;
        if (problems.length < PROBLEMS_LISTED) problems.push({ path: `[${i}].msisdn`, message: `not a phone number (must match ${this.deps.config.MSISDN_PATTERN})` });
      }
      return msisdn ?? '';
    });
    if (bad > 0) throw new AppError('VALIDATION', `${bad} sender(s) are not phone numbers; nothing was stored`, problems);
    const now = this.now();
    const pass = await this.deps.processors.replies.ingest(
      body.map((r, i) => ({
        gateway: r.gateway ?? 'api',
        msisdn: numbers[i]!,
        to: '',
        text: r.text,
        receivedAt: r.receivedAt === undefined ? now : new Date(r.receivedAt),
      })),
    );
    return { ...pass, received: body.length };
  }

  async deadLetters(query: { gateway?: string; limit: number; cursor?: string }): Promise<{ total: number; deadLetters: DeadLetterRow[]; nextCursor: string | null }> {
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await deadLetterPage(this.deps.db, { limit: query.limit + 1, ...(query.gateway ? { gateway: query.gateway } : {}), ...(before ? { before } : {}) });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const { deadLetters } = await feedbackBacklog(this.deps.db);
    return { total: deadLetters, deadLetters: page, nextCursor: rows.length > query.limit && last ? encodeCursor(last.deadAt, last.receiptId) : null };
  }

  async status() {
    const backlog = await feedbackBacklog(this.deps.db);
    const { config } = this.deps;
    return {
      receipts: {
        pending: backlog.pendingReceipts,
        awaitingSubmit: backlog.awaitingSubmit,
        oldestPendingAt: backlog.oldestPendingReceiptAt?.toISOString() ?? null,
        deadLetters: backlog.deadLetters,
      },
      replies: { pending: backlog.pendingReplies, oldestPendingAt: backlog.oldestPendingReplyAt?.toISOString() ?? null },
      settings: {
        receiptExpiryHours: config.RECEIPT_EXPIRY_HOURS,
        receiptMatchGraceSeconds: config.RECEIPT_MATCH_GRACE_SECONDS,
        optOutKeywords: [...config.OPT_OUT_KEYWORDS],
        resubscribeKeywords: [...config.RESUBSCRIBE_KEYWORDS],
      },
    };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

function encodeCursor(deadAt: Date, receiptId: number): string {
  return Buffer.from(`d:${deadAt.toISOString()}|${receiptId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { deadAt: Date; receiptId: number } {
  const match = /^d:([0-9T:.\-Z]+)\|(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const deadAt = match ? new Date(match[1]!) : undefined;
  if (!match || !deadAt || Number.isNaN(deadAt.getTime())) {
    throw new AppError('VALIDATION', 'cursor is not one this API handed out', [{ path: 'cursor', message: 'unknown cursor' }]);
  }
  return { deadAt, receiptId: Number(match[2]) };
}
