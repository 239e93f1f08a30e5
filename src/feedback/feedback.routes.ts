import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import {
  deadLettersAnswer,
  deadLettersQuery,
  MAX_ITEMS_PER_REQUEST,
  receiptsAnswer,
  receiptsBody,
  repliesAnswer,
  repliesBody,
  statusAnswer,
} from './feedback.schemas.js';

// 10,000 items of a few hundred bytes each: more than BODY_LIMIT_BYTES' default 1 MiB.
const FEEDBACK_BODY_LIMIT = MAX_ITEMS_PER_REQUEST * 512;

/** 活动执行反馈: gateways (through an operator key) post receipts and replies; operators read dead letters. */
export const feedbackRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { feedback, config } = container;
  const bodyLimit = Math.max(config.BODY_LIMIT_BYTES, FEEDBACK_BODY_LIMIT);

  app.post(
    '/v1/feedback/receipts',
    {
      config: { access: 'operator' },
      bodyLimit,
      schema: {
        tags: ['feedback'],
        summary: 'Delivery receipts (up to 10,000): stored and applied to the ledger before the answer; idempotent',
        body: receiptsBody,
        response: { 200: receiptsAnswer },
      },
    },
    async (request) => feedback.submitReceipts(request.body),
  );

  app.post(
    '/v1/feedback/replies',
    {
      config: { access: 'operator' },
      bodyLimit,
      schema: {
        tags: ['feedback'],
        summary: 'Customer replies (MO, up to 10,000): opt-out keywords put the number on opt_out, START takes it off, others are campaign responses',
        body: repliesBody,
        response: { 200: repliesAnswer },
      },
    },
    async (request) => feedback.submitReplies(request.body),
  );

  app.get(
    '/v1/feedback/dead-letters',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['feedback'],
        summary: 'Receipts whose gateway message id matched no sent message within the grace period, newest first',
        querystring: deadLettersQuery,
        response: { 200: deadLettersAnswer },
      },
    },
    async (request) => {
      const page = await feedback.deadLetters(request.query);
      return {
        ...page,
        deadLetters: page.deadLetters.map((d) => ({
          ...d,
          doneAt: d.doneAt?.toISOString() ?? null,
          receivedAt: d.receivedAt.toISOString(),
          deadAt: d.deadAt.toISOString(),
        })),
      };
    },
  );

  app.get(
    '/v1/feedback/status',
    {
      config: { access: 'analyst' },
      schema: { tags: ['feedback'], summary: 'Receipts and replies waiting, dead letters, and the feedback settings', response: { 200: statusAnswer } },
    },
    async () => feedback.status(),
  );
};
