import { z } from 'zod';
import { RECEIPT_STATUSES } from './receipt.repository.js';

/** Items one request may carry (receipts or replies); gateways post in batches of this order. */
export const MAX_ITEMS_PER_REQUEST = 10_000;

const instant = z.iso.datetime({ offset: true });

export const receiptsBody = z
  .array(
    z
      .object({
        gateway: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a gateway name'),
        gatewayMessageId: z.string().trim().min(1).max(100).describe('the id the gateway answered the submit with'),
        status: z.enum(RECEIPT_STATUSES).describe('DELIVRD, or a failure (UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN), or intermediate (ACCEPTD, ENROUTE)'),
        errorCode: z.string().trim().min(1).max(50).nullable().optional(),
        doneAt: instant.optional().describe('when the gateway finished with the message'),
      })
      .strict(),
  )
  .min(1)
  .max(MAX_ITEMS_PER_REQUEST);
export type ReceiptsBody = z.infer<typeof receiptsBody>;

export const receiptsAnswer = z.object({
  received: z.number(),
  matched: z.number().describe('receipts whose message is known'),
  delivered: z.number().describe('ledger rows that became delivered'),
  failed: z.number().describe('ledger rows that became failed'),
  awaitingSubmit: z.number().describe('message id not known yet (the submit response may still be on its way): applied when it is'),
  deadLettered: z.number(),
});

export const repliesBody = z
  .array(
    z
      .object({
        msisdn: z.string().trim().min(1).max(32),
        text: z.string().max(2000),
        receivedAt: instant.optional(),
        gateway: z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a gateway name').optional().describe('default `api`'),
      })
      .strict(),
  )
  .min(1)
  .max(MAX_ITEMS_PER_REQUEST);
export type RepliesBody = z.infer<typeof repliesBody>;

export const repliesAnswer = z.object({
  received: z.number(),
  recorded: z.number(),
  optOuts: z.number().describe('numbers put on opt_out'),
  resubscribed: z.number().describe('numbers taken off opt_out (START)'),
  responses: z.number().describe('replies that are no keyword'),
  unattributed: z.number().describe('replies from numbers no campaign had messaged'),
});

export const deadLettersQuery = z.object({
  gateway: z.string().max(63).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
});

export const deadLettersAnswer = z.object({
  total: z.number().describe('every dead letter, whatever the filter'),
  deadLetters: z.array(
    z.object({
      receiptId: z.number(),
      gateway: z.string(),
      gatewayMessageId: z.string(),
      status: z.string(),
      errorCode: z.string().nullable(),
      doneAt: z.string().nullable(),
      receivedAt: z.string(),
      reason: z.string(),
      deadAt: z.string(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const statusAnswer = z.object({
  receipts: z.object({
    pending: z.number(),
    awaitingSubmit: z.number(),
    oldestPendingAt: z.string().nullable(),
    deadLetters: z.number(),
  }),
  replies: z.object({ pending: z.number(), oldestPendingAt: z.string().nullable() }),
  settings: z.object({
    receiptExpiryHours: z.number(),
    receiptMatchGraceSeconds: z.number(),
    optOutKeywords: z.array(z.string()),
    resubscribeKeywords: z.array(z.string()),
  }),
});
