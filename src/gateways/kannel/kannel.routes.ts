import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { AppError } from '../../http/errors.js';
import { gatewayName } from '../gateway.schemas.js';
import { KANNEL_DLR_PATH, KANNEL_MO_PATH, KannelGateway } from './kannel.gateway.js';
import { moText, percentDecodeBytes, rawQueryValue } from './kannel.protocol.js';

// Kannel leaves an escape empty when it has no value for it (`%T` of a message without a time).
const optionalInt = z
  .string()
  .max(20)
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : Number(value)))
  .refine((value) => value === undefined || Number.isInteger(value), 'must be a whole number');

const token = z.string().max(200).describe("the gateway's callback token, put in the URL by the adapter");

const dlrQuery = z.object({
  gateway: gatewayName,
  token,
  id: z.string().min(1).max(100).describe('our message id (the gatewayMessageId the submit answered)'),
  type: optionalInt.describe("Kannel's %d: 1 delivered, 2 undelivered, 4 queued at the SMSC, 8 accepted by the SMSC, 16 rejected by the SMSC"),
  ts: optionalInt.describe("Kannel's %T: Unix seconds"),
  smscid: z.string().max(200).optional().describe("Kannel's %F: the SMSC's message id (for reading Kannel's logs)"),
  answer: z.string().max(4_000).optional().describe("Kannel's %A: the receipt text, or ACK/… NACK/… from the SMSC"),
});

const moQuery = z.object({
  gateway: gatewayName,
  token,
  from: z.string().min(1).max(40).describe("Kannel's %p: the customer's number"),
  to: z.string().max(40).optional().describe("Kannel's %P: the number written to"),
  text: z.string().max(8_000).optional().describe("Kannel's %b: the message bytes, percent-encoded"),
  coding: optionalInt.describe("Kannel's %c: 0 GSM, 1 8-bit, 2 UCS-2"),
  charset: z.string().max(40).optional().describe("Kannel's %C"),
  ts: optionalInt,
});

const answer = z.object({ status: z.enum(['recorded', 'ignored']) });

/**
 * The routes Kannel calls back on: its DLRs (the dlr-url each submit carries) and, optionally, MO
 * messages (an sms-service `get-url`). Public, because Kannel sends no API key; each URL carries
 * the gateway's token instead (see `dlrToken`), checked in constant time, and a wrong token or an
 * unknown gateway get the same 403 so that a caller learns nothing about which gateways exist.
 */
export const kannelRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  async function kannelGateway(name: string): Promise<KannelGateway> {
    try {
      const adapter = await container.gateways.adapter(name);
      if (adapter instanceof KannelGateway) return adapter;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'NOT_FOUND')) throw error;
    }
    throw refused();
  }

  app.get(
    KANNEL_DLR_PATH,
    {
      config: { access: 'public' },
      schema: {
        tags: ['feedback'],
        summary: "Kannel's delivery reports (its dlr-url): stored as receipts of the gateway. Public; the URL's token proves the caller",
        querystring: dlrQuery,
        response: { 200: answer },
      },
    },
    async (request) => {
      const { gateway, token, id, type, ts, answer: text } = request.query;
      const adapter = await kannelGateway(gateway);
      const outcome = adapter.acceptDlr({ token, id, dlr: { type: type ?? 0, answer: text ?? '', ...(ts === undefined ? {} : { unixSeconds: ts }) } });
      if (outcome === 'forbidden') throw refused();
      return { status: outcome };
    },
  );

  app.get(
    KANNEL_MO_PATH,
    {
      config: { access: 'public' },
      schema: {
        tags: ['feedback'],
        summary: "Customers' replies through Kannel (an sms-service get-url with max-messages = 0). Public; the URL's token proves the caller",
        querystring: moQuery,
        response: { 200: z.string() },
      },
    },
    async (request, reply) => {
      const { gateway, token, from, to, coding, charset, ts } = request.query;
      const adapter = await kannelGateway(gateway);
      // %b is the message's bytes: UTF-16BE for UCS-2 (unless smsbox's mo-recode made it UTF-8),
      // which the query parser's UTF-8 decoding would mangle, so the raw value is decoded here.
      const text = moText(percentDecodeBytes(rawQueryValue(request.url, 'text') ?? ''), coding, charset);
      const receivedAt = ts === undefined ? new Date() : new Date(ts * 1_000);
      if (adapter.acceptMo({ token, msisdn: from, to: to ?? '', text, receivedAt }) === 'forbidden') throw refused();
      // An empty answer: were the sms-service to send replies, this sends none.
      return reply.type('text/plain; charset=utf-8').send('');
    },
  );
};

function refused(): AppError {
  return new AppError('CALLBACK_REFUSED', 'The token does not match a Kannel gateway of that name');
}
