import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { z } from 'zod';
import { maskMsisdn } from '../../security/mask.js';
import { assertNever } from '../../util/assert-never.js';
import type { Gateway, GatewayEvents, GatewayStatus, OutboundMessage, OutboundMms, SubmitOutcome } from '../gateway.js';
import { ConcurrencyLimit } from '../session/concurrency-limit.js';
import { LinkStatus } from '../session/link-status.js';
import { buildSubmitRequest } from './mm7.content.js';
import { MalformedMultipartError, parseContentType, parseMultipartRelated } from './mm7.multipart.js';
import { receiptStatusOf, recipientKey, recipientMessageId } from './mm7.receipt.js';
import {
  buildDeliveryReportRsp,
  buildFault,
  MalformedMm7Error,
  MM7_STATUS,
  parseDeliveryReportReq,
  parseSubmitRsp,
  type SubmitRsp,
} from './mm7.soap.js';
import { classifyMm7Status, mm7StatusCode } from './mm7.status.js';

/**
 * An MM7 (3GPP TS 23.140) VASP's configuration: where the MMSC takes SubmitReq, who we are to it,
 * and the token the MMSC presents when it posts delivery reports to `POST /v1/feedback/mm7`.
 */
export const mm7GatewayConfigSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be the http(s) URL of the MMSC’s MM7 endpoint' }),
  vaspId: z.string().min(1).max(64),
  vasId: z.string().min(1).max(64),
  /** HTTP basic authentication towards the MMSC; an empty username sends none. */
  username: z.string().max(128).default(''),
  password: z.string().max(128),
  /** Our address as the MMSC knows it (the 106… service code, or a number). */
  senderAddress: z.string().min(1).max(64),
  serviceCode: z.string().min(1).max(64).optional(),
  /** Recipients per SubmitReq when they get the same content; the adapter falls back to 1 on status 3003. */
  recipientsPerRequest: z.number().int().min(1).max(100).default(20),
  /** For the whole exchange: connect, send, answer. */
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
  /** SubmitReq in flight at once, at most (also the connections kept open to the MMSC). */
  maxConcurrentRequests: z.number().int().min(1).max(256).default(8),
  /**
   * The secret the MMSC presents on its delivery reports (as the password of HTTP basic
   * authentication, or as a bearer token); long and random, since that route takes no API key.
   */
  callbackToken: z.string().min(16, 'at least 16 characters: it guards a route without an API key').max(256),
});

export type Mm7GatewayConfig = z.output<typeof mm7GatewayConfigSchema>;
export type Mm7GatewayConfigInput = z.input<typeof mm7GatewayConfigSchema>;

export interface Mm7GatewayOptions {
  name: string;
  config: Mm7GatewayConfigInput;
  logger: Logger;
}

/** What to send back to the MMSC for a request it made to us. */
export interface Mm7CallbackAnswer {
  statusCode: number;
  contentType: string;
  body: string;
}

type Failure = Extract<SubmitOutcome, { kind: 'rejected' | 'retryable' | 'unknown' }>['kind'];

/** One SubmitReq's fate as the transport saw it. */
type Exchange =
  | { kind: 'answer'; rsp: SubmitRsp }
  | { kind: 'failed'; outcome: Failure; code: string; message: string; gatewayFailure: boolean };

type HttpResult =
  | { kind: 'response'; status: number; contentType: string | undefined; body: Buffer }
  /** Certainly not processed: nothing or only part of the request reached the MMSC. */
  | { kind: 'not-sent'; code: string; message: string }
  /** Sent whole, no answer: it may have been taken. */
  | { kind: 'no-answer'; code: string; message: string };

// Errors that leave no doubt the connection never carried our request.
const NOT_CONNECTED_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const XML_TYPES: ReadonlySet<string> = new Set(['text/xml', 'application/xml', 'application/soap+xml']);

/**
 * An MM7 VASP over SOAP/HTTP: SubmitReq (multipart/related: envelope, SMIL and media) for every
 * message carrying `mms`, many recipients of the same content per request, one per request once
 * the MMSC answers 3003. Connectionless: `status()` reports how the last exchanges went.
 */
export class Mm7Gateway implements Gateway {
  readonly name: string;
  private readonly config: Mm7GatewayConfig;
  private readonly logger: Logger;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly authorization: string | undefined;
  private readonly callbackDigest: Buffer;
  private readonly listeners: { [E in keyof GatewayEvents]: Array<GatewayEvents[E]> } = { receipt: [], mo: [] };
  private readonly requestSlots: ConcurrencyLimit;
  private readonly requests = new Set<http.ClientRequest>();
  private readonly contentIds = new WeakMap<Uint8Array, number>();
  private readonly transactionPrefix = randomBytes(4).toString('hex');
  private transactionSeq = 0;
  private contentSeq = 0;
  /** Connectionless: how the last exchanges went (see `record`). */
  private readonly link = new LinkStatus();
  private closed = false;
  /** False once the MMSC answered 3003: it takes one recipient per SubmitReq. */
  private multipleRecipients = true;

  constructor(options: Mm7GatewayOptions) {
    this.name = options.name;
    this.config = mm7GatewayConfigSchema.parse(options.config);
    this.logger = options.logger.child({ gateway: options.name });
    this.requestSlots = new ConcurrencyLimit(this.config.maxConcurrentRequests);
    this.url = new URL(this.config.url);
    const agentOptions = { keepAlive: true, maxSockets: this.config.maxConcurrentRequests };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.authorization =
      this.config.username === '' ? undefined : `Basic ${Buffer.from(`${this.config.username}:${this.config.password}`).toString('base64')}`;
    this.callbackDigest = digest(this.config.callbackToken);
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    const outcomes: SubmitOutcome[] = [];
    const sendable: Array<OutboundMessage & { mms: OutboundMms }> = [];
    for (const message of batch) {
      if (!message.mms) outcomes.push({ kind: 'rejected', ref: message.ref, code: 'NOT_MMS', message: 'an MM7 gateway sends MMS; this message has no MMS content' });
      else if (message.mms.parts.length === 0) outcomes.push({ kind: 'rejected', ref: message.ref, code: 'EMPTY_MMS', message: 'the MMS has no parts' });
      else sendable.push(message as OutboundMessage & { mms: OutboundMms });
    }
    const requests = this.requestsFor(sendable);
    const answered = await Promise.all(
      requests.map((messages) =>
        this.submitRequest(messages).catch((error: unknown): SubmitOutcome[] => {
          this.logger.error({ err: error, recipients: messages.length }, 'mm7 submit failed');
          return messages.map((m) => ({ kind: 'unknown', ref: m.ref, code: 'INTERNAL_ERROR', message: 'the submit failed unexpectedly' }));
        }),
      ),
    );
    return outcomes.concat(answered.flat());
  }

  status(): GatewayStatus {
    const status = this.link.status();
    return this.closed ? { ...status, status: 'down' } : status;
  }

  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void {
    this.listeners[event].push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.requestSlots.admitAll();
    for (const request of this.requests) request.destroy(new Error('the MM7 gateway is closing'));
    this.agent.destroy();
  }

  /**
   * True when the Authorization header carries this gateway's callback token: as the password of
   * basic authentication (any user name) or as a bearer token. Compared in constant time.
   */
  acceptsCallbackCredentials(authorization: string | undefined): boolean {
    const presented = callbackSecretOf(authorization);
    return presented !== null && timingSafeEqual(digest(presented), this.callbackDigest);
  }

  /**
   * A DeliveryReportReq the MMSC posted (text/xml, or multipart/related with the envelope as its
   * root): emitted as a receipt, answered DeliveryReportRsp 1000; an envelope we cannot read is
   * answered with a SOAP fault (HTTP 500, as SOAP 1.1 binds faults). Credentials are checked first,
   * by `acceptsCallbackCredentials`.
   */
  handleDeliveryReport(contentType: string | undefined, body: Buffer): Mm7CallbackAnswer {
    let transactionId: string | null = null;
    try {
      const report = parseDeliveryReportReq(envelopeText(contentType, body));
      transactionId = report.transactionId;
      const status = receiptStatusOf(report.mmStatus);
      const receipt = {
        gateway: this.name,
        gatewayMessageId: recipientMessageId(report.messageId, report.recipient),
        status,
        // The MMStatus as said (MM7_Rejected, MM7_Expired…) for the ledger's error column.
        errorCode: status === 'DELIVRD' ? null : `MM7_${report.mmStatus}`.slice(0, 64),
        doneAt: report.date,
        receivedAt: new Date(),
      };
      for (const listener of this.listeners.receipt) listener(receipt);
      return soapAnswer(200, buildDeliveryReportRsp({ transactionId, statusCode: MM7_STATUS.SUCCESS, statusText: 'Success' }));
    } catch (error) {
      if (!(error instanceof MalformedMm7Error || error instanceof MalformedMultipartError)) throw error;
      this.logger.warn({ reason: error.message }, 'mm7 delivery report refused');
      const fault = buildFault({ from: 'VASP', transactionId, statusCode: MM7_STATUS.VALIDATION_ERROR, statusText: `Validation error: ${error.message}` });
      return soapAnswer(500, fault);
    }
  }

  /** Splits the messages into SubmitReq: same content together, up to recipientsPerRequest, each number once per request. */
  private requestsFor(messages: ReadonlyArray<OutboundMessage & { mms: OutboundMms }>): Array<Array<OutboundMessage & { mms: OutboundMms }>> {
    const perRequest = this.multipleRecipients ? this.config.recipientsPerRequest : 1;
    const open = new Map<string, Array<{ messages: Array<OutboundMessage & { mms: OutboundMms }>; keys: Set<string> }>>();
    const requests: Array<Array<OutboundMessage & { mms: OutboundMms }>> = [];
    for (const message of messages) {
      const content = this.contentKey(message.mms);
      const key = recipientKey(message.msisdn);
      const candidates = open.get(content) ?? [];
      open.set(content, candidates);
      let request = candidates.find((r) => r.messages.length < perRequest && !r.keys.has(key));
      if (!request) {
        request = { messages: [], keys: new Set() };
        candidates.push(request);
        requests.push(request.messages);
      }
      request.messages.push(message);
      request.keys.add(key);
    }
    return requests;
  }

  /** Equal for two MMS with the same subject and parts (images compared by identity: the sender shares one buffer per campaign). */
  private contentKey(mms: OutboundMms): string {
    return JSON.stringify([
      mms.subject,
      mms.parts.map((part) => (part.type === 'text' ? ['t', part.text] : ['i', part.contentType, this.contentIdOf(part.content)])),
    ]);
  }

  private contentIdOf(content: Uint8Array): number {
    let id = this.contentIds.get(content);
    if (id === undefined) {
      id = ++this.contentSeq;
      this.contentIds.set(content, id);
    }
    return id;
  }

  private async submitRequest(messages: ReadonlyArray<OutboundMessage & { mms: OutboundMms }>): Promise<SubmitOutcome[]> {
    const exchange = await this.exchange(messages);
    if (exchange.kind === 'failed') {
      const { outcome: kind, code, message } = exchange;
      return messages.map((m) => ({ kind, ref: m.ref, code, message }));
    }
    const { rsp } = exchange;
    const status = classifyMm7Status(rsp.statusCode);
    const code = mm7StatusCode(rsp.statusCode);
    const said = `the MMSC answered ${rsp.statusCode} ${status.name}${rsp.statusText ? ` (${rsp.statusText})` : ''}`;
    switch (status.kind) {
      case 'accepted':
      case 'partial': {
        if (!rsp.messageId) {
          return messages.map((m) => ({ kind: 'unknown', ref: m.ref, code: 'NO_MESSAGE_ID', message: `${said} without a MessageID` }));
        }
        const failed = new Set(rsp.failedRecipients.map(recipientKey));
        const messageId = rsp.messageId;
        return messages.map((m): SubmitOutcome => {
          if (status.kind === 'partial' && failed.has(recipientKey(m.msisdn))) {
            return { kind: 'rejected', ref: m.ref, code, message: `${said}; this recipient is among the failed ones` };
          }
          return { kind: 'accepted', ref: m.ref, gatewayMessageIds: [recipientMessageId(messageId, m.msisdn)] };
        });
      }
      case 'split':
        if (messages.length === 1) return [{ kind: 'rejected', ref: messages[0]!.ref, code, message: said }];
        if (this.multipleRecipients) {
          this.multipleRecipients = false;
          this.logger.warn({ recipients: messages.length }, 'mmsc takes one recipient per SubmitReq (3003); sending one by one from now on');
        }
        return (await Promise.all(messages.map((m) => this.submitRequest([m])))).flat();
      case 'rejected':
        return messages.map((m) => ({ kind: 'rejected', ref: m.ref, code, message: said }));
      case 'retryable':
      case 'gateway':
        return messages.map((m) => ({ kind: 'retryable', ref: m.ref, code, message: said }));
      default:
        return assertNever(status.kind);
    }
  }

  /** One SubmitReq over HTTP, within a concurrency slot; records how the link is doing. */
  private exchange(messages: ReadonlyArray<OutboundMessage & { mms: OutboundMms }>): Promise<Exchange> {
    return this.requestSlots.run(async () => {
      if (this.closed) return failed('retryable', 'NOT_CONNECTED', 'the MM7 gateway is closed', false);
      const first = messages[0]!;
      const request = buildSubmitRequest(
        {
          transactionId: this.nextTransactionId(),
          vaspId: this.config.vaspId,
          vasId: this.config.vasId,
          senderAddress: this.config.senderAddress,
          recipients: messages.map((m) => m.msisdn),
          serviceCode: this.config.serviceCode,
          deliveryReport: true,
          subject: first.mms.subject,
        },
        first.mms,
      );
      const result = await this.post(request.contentType, request.body);
      const exchange = this.exchangeOf(result);
      this.record(exchange, messages);
      return exchange;
    });
  }

  private exchangeOf(result: HttpResult): Exchange {
    if (result.kind === 'not-sent') return failed('retryable', result.code, result.message, true);
    if (result.kind === 'no-answer') return failed('unknown', result.code, result.message, true);
    const { status } = result;
    const essence = parseContentType(result.contentType)?.essence;
    // SOAP 1.1 answers faults with HTTP 500, so a readable envelope decides whatever the status.
    if ((status === 200 || status === 500) && essence !== undefined && (XML_TYPES.has(essence) || essence === 'multipart/related')) {
      try {
        return { kind: 'answer', rsp: parseSubmitRsp(envelopeText(result.contentType, result.body)) };
      } catch (error) {
        if (!(error instanceof MalformedMm7Error || error instanceof MalformedMultipartError)) throw error;
        return failed('unknown', 'BAD_RESPONSE', `the MMSC answered HTTP ${status} with an envelope we cannot read: ${error.message}`, true);
      }
    }
    const http = `HTTP_${status}`;
    const message = `the MMSC answered HTTP ${status} without an MM7 status`;
    if (status === 401 || status === 403) return failed('retryable', http, `${message}: the username or password is refused`, true);
    if (status === 404 || status === 405) return failed('retryable', http, `${message}: is the url right?`, true);
    if (status === 429 || status === 503) return failed('retryable', http, message, true);
    if (status === 413) return failed('rejected', http, `${message}: the MMS is too large for this MMSC`, false);
    if (status >= 400 && status < 500) return failed('rejected', http, message, false);
    // 200 without an envelope, 500, 502, 504…: it may have been taken.
    return failed('unknown', http, message, true);
  }

  /** The link's health for `status()`: MM7 answers of the gateway and server kinds, and transport failures, count as failures. */
  private record(exchange: Exchange, messages: ReadonlyArray<OutboundMessage>): void {
    let failure: string | null = null;
    if (exchange.kind === 'failed') {
      if (exchange.gatewayFailure) failure = `${exchange.code}: ${exchange.message}`;
    } else {
      const status = classifyMm7Status(exchange.rsp.statusCode);
      if (status.kind === 'gateway' || status.kind === 'retryable') failure = `MM7 ${exchange.rsp.statusCode} ${status.name}`;
    }
    if (this.closed) return;
    if (failure === null) {
      this.link.up();
      return;
    }
    const consecutiveFailures = this.link.failed(failure);
    this.logger.warn(
      { reason: failure, consecutiveFailures, recipients: messages.length, first: maskMsisdn(messages[0]?.msisdn ?? '') },
      'mm7 submit failed',
    );
  }

  private post(contentType: string, body: Buffer): Promise<HttpResult> {
    return new Promise((resolve) => {
      let settled = false;
      let written = false;
      const settle = (result: HttpResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.requests.delete(request);
        resolve(result);
      };
      const transport = this.url.protocol === 'https:' ? https : http;
      const request = transport.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          'Content-Type': contentType,
          'Content-Length': body.length,
          SOAPAction: '""',
          ...(this.authorization ? { Authorization: this.authorization } : {}),
        },
      });
      this.requests.add(request);
      const timer = setTimeout(() => {
        const result: HttpResult = written
          ? { kind: 'no-answer', code: 'RESPONSE_TIMEOUT', message: `no answer within ${this.config.timeoutMs} ms` }
          : { kind: 'not-sent', code: 'CONNECT_TIMEOUT', message: `the request could not be sent within ${this.config.timeoutMs} ms` };
        settle(result);
        request.destroy();
      }, this.config.timeoutMs);
      // 'finish': the whole request is handed to the socket. Before it, the MMSC cannot have a
      // complete request to act on, so a failure then is safe to retry.
      request.on('finish', () => (written = true));
      request.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? 'NETWORK_ERROR';
        if (!written || NOT_CONNECTED_ERRORS.has(code)) settle({ kind: 'not-sent', code: 'NOT_CONNECTED', message: `the MMSC could not be reached (${code})` });
        else settle({ kind: 'no-answer', code: 'CONNECTION_LOST', message: `the connection failed before the answer (${code})` });
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          settle({ kind: 'response', status: response.statusCode ?? 0, contentType: response.headers['content-type'], body: Buffer.concat(chunks) }),
        );
        response.on('error', () => settle({ kind: 'no-answer', code: 'CONNECTION_LOST', message: 'the connection failed during the answer' }));
      });
      request.end(body);
    });
  }

  private nextTransactionId(): string {
    this.transactionSeq += 1;
    return `quanke-${this.transactionPrefix}-${this.transactionSeq}`;
  }
}

function failed(outcome: Failure, code: string, message: string, gatewayFailure: boolean): Exchange {
  return { kind: 'failed', outcome, code, message, gatewayFailure };
}

/** The SOAP envelope of a body: the body itself for text/xml, the root part of multipart/related. */
function envelopeText(contentType: string | undefined, body: Buffer): string {
  const type = parseContentType(contentType);
  if (type?.essence === 'multipart/related') return parseMultipartRelated(contentType, body).root.body.toString('utf8');
  return body.toString('utf8');
}

function soapAnswer(statusCode: number, envelope: string): Mm7CallbackAnswer {
  return { statusCode, contentType: 'text/xml; charset=utf-8', body: envelope };
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** The secret of `Basic base64(user:secret)` or `Bearer secret`, else null. */
function callbackSecretOf(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const [scheme, value] = authorization.trim().split(/\s+/, 2);
  if (!scheme || !value) return null;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() !== 'basic') return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}
