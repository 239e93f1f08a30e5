import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Gateway, GatewayEvents, GatewayStatus, OutboundMessage, SubmitOutcome } from '../gateway.js';
import { ConcurrencyLimit } from '../session/concurrency-limit.js';
import { GatewayListeners } from '../session/gateway-listeners.js';
import { LinkStatus } from '../session/link-status.js';
import { submitEach } from '../session/message-outcome.js';
import { encodeSms, MAX_PARTS } from '../sms-encoding.js';
import { normaliseMessageId } from '../smpp/smpp.receipt.js';
import { DLR_MASK_ALL, dlrReceipt, dlrToken, sendsmsVerdict, tokensMatch, type KannelDlr } from './kannel.protocol.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/**
 * A Kannel gateway: our messages go to smsbox's `/cgi-bin/sendsms` as a `sendsms-user`, and
 * Kannel reports on them by calling `dlrUrlBase` + `/v1/feedback/kannel`. The sendsms-user must
 * have `concatenation = true` and `max-messages` ≥ 10: Kannel splits long texts itself, and
 * without those it would send the parts as separate messages or cut the text.
 */
export const kannelGatewayConfigSchema = z.object({
  /** smsbox's sendsms interface, e.g. http://127.0.0.1:13013/cgi-bin/sendsms. */
  sendsmsUrl: httpUrl,
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(128),
  /** Our number (the 106… service number), sent as `from`. */
  from: z.string().min(1).max(20),
  /** This API as Kannel reaches it, e.g. http://10.0.0.5:3000; the DLR route is appended. */
  dlrUrlBase: httpUrl,
  /** Kannel's smsc-id to route through; left out, Kannel's own routing decides. */
  smsc: z.string().min(1).max(64).optional(),
  /** sendsms requests open at once, at most (smsbox answers each when bearerbox has queued it). */
  maxConcurrent: z.number().int().min(1).max(1_000).default(20),
  /** For one sendsms request, connect included; past it the message is `unknown`. */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** The SMSC's time zone for `done date` in the receipt texts Kannel passes on, in minutes ahead of UTC. */
  receiptUtcOffsetMinutes: z.number().int().min(-720).max(840).default(0),
});

export type KannelGatewayConfig = z.output<typeof kannelGatewayConfigSchema>;
export type KannelGatewayConfigInput = z.input<typeof kannelGatewayConfigSchema>;

export interface KannelGatewayOptions {
  name: string;
  config: KannelGatewayConfigInput;
  logger: Logger;
}

/** The DLR route Kannel calls; the query is built by `dlrUrl`. */
export const KANNEL_DLR_PATH = '/v1/feedback/kannel';
/** The MO route an sms-service `get-url` calls (see README). */
export const KANNEL_MO_PATH = '/v1/feedback/kannel/mo';

// Refused connections mean nothing reached Kannel: safe to send again. Anything else after the
// request may have been written (reset, timeout) leaves the message unknown.
const NOT_SENT_ERRORS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type Verdict = { kind: 'accepted' } | { kind: 'rejected' | 'retryable' | 'unknown'; code: string; message: string };

export type DlrAnswer = 'recorded' | 'ignored' | 'forbidden';

/**
 * Kannel over HTTP. Each message is one sendsms request with the whole text (Kannel splits and
 * concatenates), so each message has one gateway message id: ours, a UUID, because the sendsms
 * answer does not say the SMSC's id. It travels in the dlr-url, and every DLR Kannel makes for the
 * message (for each part, when Kannel split it) comes back with it.
 */
export class KannelGateway implements Gateway {
  readonly name: string;
  private readonly config: KannelGatewayConfig;
  private readonly logger: Logger;
  private readonly token: string;
  private readonly dlrUrlPrefix: string;
  private readonly requestSlots: ConcurrencyLimit;
  /** Whether smsbox answers: the last requests' fate (see `request`). */
  private readonly link = new LinkStatus();
  private closed = false;
  private readonly inFlightRequests = new Set<AbortController>();
  private readonly listeners: GatewayListeners;

  constructor(options: KannelGatewayOptions) {
    this.name = options.name;
    this.config = kannelGatewayConfigSchema.parse(options.config);
    this.logger = options.logger.child({ gateway: options.name });
    this.listeners = new GatewayListeners(this.logger, 'kannel listener failed');
    this.requestSlots = new ConcurrencyLimit(this.config.maxConcurrent);
    this.token = dlrToken(this.config.password, this.name);
    const base = this.config.dlrUrlBase.replace(/\/+$/, '');
    // %d type, %A the SMSC's answer or receipt text, %T when, %F the SMSC's id (for people reading
    // Kannel's logs beside ours). No %p/%P: the receipt needs no phone number, and a number in a
    // URL ends up in access logs.
    this.dlrUrlPrefix = `${base}${KANNEL_DLR_PATH}?gateway=${encodeURIComponent(this.name)}&token=${this.token}`;
    void this.probe();
  }

  /** The dlr-url Kannel stores with the message and calls (with its %-escapes filled in). */
  dlrUrl(messageId: string): string {
    return `${this.dlrUrlPrefix}&id=${encodeURIComponent(messageId)}&type=%d&ts=%T&smscid=%F&answer=%A`;
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    return submitEach(
      batch,
      (message) => this.submitMessage(message),
      (error, message) => this.logger.error({ err: scrubError(error, this.config.password), ref: message.ref }, 'kannel submit failed'),
    );
  }

  status(): GatewayStatus {
    return this.link.status();
  }

  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void {
    this.listeners.on(event, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const controller of this.inFlightRequests) controller.abort(new Error('the Kannel gateway is closing'));
    this.requestSlots.admitAll();
  }

  /**
   * A DLR callback: checks the token (constant time), then hands the receipt to the listeners
   * like any adapter's receipt. `forbidden` for a wrong token, `ignored` for a DLR type Kannel does
   * not define (answered 200 all the same: Kannel must not retry it).
   */
  acceptDlr(request: { token: string; id: string; dlr: KannelDlr }): DlrAnswer {
    if (!tokensMatch(request.token, this.token)) return 'forbidden';
    const receipt = dlrReceipt(request.dlr, this.config.receiptUtcOffsetMinutes);
    if (!receipt) {
      this.logger.warn({ type: request.dlr.type }, 'kannel dlr of an unknown type ignored');
      return 'ignored';
    }
    this.listeners.emit('receipt', {
      gateway: this.name,
      gatewayMessageId: normaliseMessageId(request.id, 'opaque'),
      ...receipt,
      receivedAt: new Date(),
    });
    return 'recorded';
  }

  /** An MO message from an sms-service get-url carrying the same token. */
  acceptMo(request: { token: string; msisdn: string; to: string; text: string; receivedAt: Date }): DlrAnswer {
    if (!tokensMatch(request.token, this.token)) return 'forbidden';
    this.listeners.emit('mo', { gateway: this.name, msisdn: request.msisdn, to: request.to, text: request.text, receivedAt: request.receivedAt });
    return 'recorded';
  }

  private async submitMessage(message: OutboundMessage): Promise<SubmitOutcome> {
    const { ref } = message;
    if (message.text.length === 0) return { kind: 'rejected', ref, code: 'EMPTY_TEXT', message: 'the text is empty' };
    const encoded = encodeSms(message.text);
    if (encoded.parts.length > MAX_PARTS) {
      return { kind: 'rejected', ref, code: 'TOO_MANY_PARTS', message: `the text needs ${encoded.parts.length} parts, more than ${MAX_PARTS}` };
    }
    const id = normaliseMessageId(randomUUID(), 'opaque');
    const query = new URLSearchParams({
      username: this.config.username,
      password: this.config.password,
      from: this.config.from,
      to: message.msisdn,
      text: message.text,
      charset: 'UTF-8',
      // 0 lets Kannel write GSM 03.38 (it converts from UTF-8); 2 is UCS-2, for Chinese.
      coding: encoded.encoding === 'UCS2' ? '2' : '0',
      'dlr-mask': String(DLR_MASK_ALL),
      'dlr-url': this.dlrUrl(id),
      ...(this.config.smsc === undefined ? {} : { smsc: this.config.smsc }),
    });
    const verdict = await this.request(`${this.config.sendsmsUrl}?${query.toString().replaceAll('+', '%20')}`);
    if (verdict.kind === 'accepted') return { kind: 'accepted', ref, gatewayMessageIds: [id] };
    return { ...verdict, ref };
  }

  /** One sendsms request within the concurrency limit. */
  private async request(url: string): Promise<Verdict> {
    if (this.closed) return { kind: 'retryable', code: 'NOT_CONNECTED', message: 'the Kannel gateway is closed' };
    return this.requestSlots.run(() => this.sendsms(url));
  }

  private async sendsms(url: string): Promise<Verdict> {
    const controller = new AbortController();
    this.inFlightRequests.add(controller);
    const timer = setTimeout(() => controller.abort(new TimeoutError()), this.config.timeoutMs);
    try {
      const response = await fetch(url, { signal: controller.signal });
      const body = await response.text();
      const verdict = sendsmsVerdict(response.status, body);
      if (verdict.kind === 'unauthorised') {
        // Every message would be refused the same way: report it like a link that will not come up,
        // so that the sender pauses the campaign with this reason rather than failing every recipient.
        this.link.failed(verdict.message);
        return { kind: 'retryable', code: verdict.code, message: verdict.message };
      }
      if (verdict.kind === 'retryable') this.link.failed(verdict.message);
      else this.link.up();
      return verdict;
    } catch (error) {
      if (error instanceof TimeoutError || (error as Error).name === 'TimeoutError') {
        this.link.failed(`no answer from Kannel within ${this.config.timeoutMs} ms`);
        return { kind: 'unknown', code: 'RESPONSE_TIMEOUT', message: `no sendsms answer within ${this.config.timeoutMs} ms` };
      }
      const code = networkCode(error);
      const reason = `Kannel's sendsms interface is unreachable (${code ?? 'network error'})`;
      this.link.failed(reason);
      if (this.closed) return { kind: 'unknown', code: 'CLOSED', message: 'the gateway closed with the request open' };
      if (code !== undefined && NOT_SENT_ERRORS.has(code)) return { kind: 'retryable', code: 'NOT_CONNECTED', message: reason };
      return { kind: 'unknown', code: code ?? 'NETWORK_ERROR', message: `${reason}; the request may have reached it` };
    } finally {
      clearTimeout(timer);
      this.inFlightRequests.delete(controller);
    }
  }

  /**
   * Whether smsbox answers at all, with no credentials sent: it refuses the empty request
   * (403 or 400), which is enough to say `connected` before the first message.
   */
  private async probe(): Promise<void> {
    try {
      const response = await fetch(this.config.sendsmsUrl, { signal: AbortSignal.timeout(this.config.timeoutMs) });
      await response.body?.cancel();
      if (this.link.state === 'connecting') this.link.up();
    } catch (error) {
      if (this.link.state === 'connecting' && !this.closed) {
        this.link.down(`Kannel's sendsms interface is unreachable (${networkCode(error) ?? 'network error'})`);
      }
    }
  }
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** The socket error code under fetch's `TypeError: fetch failed`. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The error without the password: fetch errors may quote the request URL, whose query carries the
 * sendsms password (Kannel takes it nowhere else on a GET).
 */
export function scrubError(error: unknown, password: string): { name: string; message: string; code?: string } {
  const message = error instanceof Error ? error.message : String(error);
  const code = networkCode(error);
  return { name: error instanceof Error ? error.name : 'Error', message: scrubSecret(message, password), ...(code ? { code } : {}) };
}

/** Replaces the secret (raw or URL-encoded) and any `password=` query value. */
export function scrubSecret(text: string, password: string): string {
  let scrubbed = text.replace(/([?&]password=)[^&\s]*/gi, '$1[redacted]');
  for (const spelling of new Set([password, encodeURIComponent(password)])) {
    if (spelling !== '') scrubbed = scrubbed.split(spelling).join('[redacted]');
  }
  return scrubbed;
}
