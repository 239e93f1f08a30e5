import type { Logger } from 'pino';
import smpp, { type Pdu, type Session, type ShortMessage } from 'smpp';
import { z } from 'zod';
import type { Gateway, GatewayEvents, GatewayStatus, OutboundMessage, SubmitOutcome } from '../gateway.js';
import { ConcurrencyLimit } from '../session/concurrency-limit.js';
import { GatewayListeners } from '../session/gateway-listeners.js';
import { submitEach, submitParts, type PartResult } from '../session/message-outcome.js';
import { OutstandingRequests } from '../session/outstanding-requests.js';
import { Reconnector } from '../session/reconnector.js';
import { ThrottlePause } from '../session/throttle-pause.js';
import { encodeSms, MAX_PARTS, type SmsEncoding } from '../sms-encoding.js';
import { normaliseMessageId, parseReceipt } from './smpp.receipt.js';

const messageIdFormatSchema = z.enum(['hex', 'decimal', 'opaque']);

/**
 * An SMPP 3.4 gateway's configuration. Lengths are the protocol's (system_id 16 octets, password
 * 9, system_type 13, address 21, each with its terminating NUL), so a bad value fails here and not
 * at bind time.
 */
export const smppGatewayConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  systemId: z.string().min(1).max(15),
  password: z.string().max(8),
  systemType: z.string().max(12).optional(),
  /** Our number (the 106… service number), put in source_addr. */
  sourceAddr: z.string().min(1).max(20),
  /** submit_sm written and not yet answered, at most. */
  maxOutstanding: z.number().int().min(1).max(1_000).default(50),
  enquireLinkSeconds: z.number().positive().max(3_600).default(30),
  /** For every answer we wait for: submit_sm_resp, bind (including the TCP connect), enquire_link. */
  responseTimeoutMs: z.number().int().min(10).default(10_000),
  reconnectMinMs: z.number().int().min(10).default(1_000),
  reconnectMaxMs: z.number().int().min(10).default(60_000),
  /** How long a submit waits for a (re)connection before answering `retryable` NOT_CONNECTED. */
  connectWaitMs: z.number().int().min(0).default(2_000),
  /** How long submitting stops after ESME_RTHROTTLED or ESME_RMSGQFUL. */
  throttlePauseMs: z.number().int().min(0).default(1_000),
  /** How this SMSC spells message ids in submit_sm_resp and in the receipt text (see `normaliseMessageId`). */
  messageIdFormat: z
    .object({ submit: messageIdFormatSchema, receipt: messageIdFormatSchema })
    .default({ submit: 'hex', receipt: 'decimal' }),
  /** The SMSC's time zone for receipt dates, in minutes ahead of UTC (480 for China). */
  receiptUtcOffsetMinutes: z.number().int().min(-720).max(840).default(0),
});

export type SmppGatewayConfig = z.output<typeof smppGatewayConfigSchema>;
export type SmppGatewayConfigInput = z.input<typeof smppGatewayConfigSchema>;

export interface SmppGatewayOptions {
  name: string;
  /** Validated here with `smppGatewayConfigSchema`, so defaults may be left out. */
  config: SmppGatewayConfigInput;
  logger: Logger;
}

const ESME_ROK = 0x00;
const ESME_RSYSERR = 0x08;
const ESME_RMSGQFUL = 0x14;
const ESME_RTHROTTLED = 0x58;
const ESME_RX_T_APPN = 0x64;
// Not taken, and worth trying again later; every other non-zero status is final.
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RX_T_APPN, ESME_RSYSERR]);
// The SMSC says it is overloaded: stop for a moment instead of hammering it.
const BACK_OFF_STATUSES: ReadonlySet<number> = new Set([ESME_RTHROTTLED, ESME_RMSGQFUL]);

const ESM_CLASS_UDHI = 0x40;
// Bits 2-5 of esm_class are the message type of a deliver_sm.
const ESM_CLASS_TYPE_MASK = 0x3c;
const ESM_CLASS_DELIVERY_RECEIPT = 0x04;
const ESM_CLASS_INTERMEDIATE_NOTIFICATION = 0x20;
const DATA_CODING_SMSC_DEFAULT = 0x00;
const DATA_CODING_UCS2 = 0x08;
const INTERFACE_VERSION_34 = 0x34;
const UNBIND_WAIT_MS = 2_000;

const STATUS_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(smpp.errors).map(([name, value]) => [value, name]));

/** The stable code of an SMPP command_status, e.g. `ESME_0x0000000B`. */
export function commandStatusCode(status: number): string {
  return `ESME_0x${status.toString(16).toUpperCase().padStart(8, '0')}`;
}

function describeStatus(status: number): string {
  return `${STATUS_NAMES.get(status) ?? 'unknown status'} (${commandStatusCode(status)})`;
}

const NOT_CONNECTED: PartResult = { kind: 'retryable', code: 'NOT_CONNECTED', message: 'the SMPP gateway is not bound' };

interface Connection {
  readonly session: Session;
  /** Why the attempt or the link failed, when we know better than the socket. */
  failure?: string;
  socketError?: string;
  /** Each written, unanswered submit_sm, by sequence number. */
  readonly outstanding: OutstandingRequests<PartResult>;
  attemptTimer?: NodeJS.Timeout;
  enquireTimer?: NodeJS.Timeout;
}

/**
 * An SMPP 3.4 ESME over one bind_transceiver. It connects when constructed and stays connected
 * (enquire_link, reconnects with exponential backoff and jitter) until `close()`.
 */
export class SmppGateway implements Gateway {
  readonly name: string;
  private readonly config: SmppGatewayConfig;
  private readonly logger: Logger;
  /** The bind_transceiver session kept up. */
  private readonly link: Reconnector<Connection>;
  private readonly window: ConcurrencyLimit;
  private readonly throttle = new ThrottlePause();
  private concatenationRef = 0;
  private readonly listeners: GatewayListeners;

  constructor(options: SmppGatewayOptions) {
    this.name = options.name;
    this.config = smppGatewayConfigSchema.parse(options.config);
    this.logger = options.logger.child({ gateway: options.name });
    this.listeners = new GatewayListeners(this.logger, 'smpp listener failed');
    this.window = new ConcurrencyLimit(this.config.maxOutstanding);
    this.link = new Reconnector(this.config, () => this.connect());
    this.link.start();
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    return submitEach(
      batch,
      (message) => this.submitMessage(message),
      (error, message) => this.logger.error({ err: error, ref: message.ref }, 'smpp submit failed'),
    );
  }

  status(): GatewayStatus {
    return this.link.status();
  }

  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void {
    this.listeners.on(event, listener);
  }

  async close(): Promise<void> {
    if (this.link.isClosed) return;
    this.link.close();
    const connection = this.link.connection;
    if (!connection) return;
    if (this.link.live) await this.unbind(connection);
    if (!connection.session.socket.destroyed) {
      await new Promise<void>((resolve) => connection.session.destroy(resolve));
    }
  }

  private async submitMessage(message: OutboundMessage): Promise<SubmitOutcome> {
    const { ref } = message;
    if (message.text.length === 0) return { kind: 'rejected', ref, code: 'EMPTY_TEXT', message: 'the text is empty' };
    const encoded = encodeSms(message.text);
    const total = encoded.parts.length;
    if (total > MAX_PARTS) {
      return { kind: 'rejected', ref, code: 'TOO_MANY_PARTS', message: `the text needs ${total} parts, more than ${MAX_PARTS}` };
    }
    const reference = total > 1 ? this.nextConcatenationRef() : null;
    const parts = encoded.parts.map((text, index) => ({
      text,
      // 8-bit reference concatenation IE: length 5, IEI 0x00, IE length 3, ref, total, sequence.
      udh: reference === null ? null : Buffer.from([0x05, 0x00, 0x03, reference, total, index + 1]),
    }));
    return submitParts(
      ref,
      parts,
      (part) => this.submitPart(message.msisdn, part.text, encoded.encoding, part.udh),
      this.config.throttlePauseMs,
    );
  }

  private submitPart(msisdn: string, text: string, encoding: SmsEncoding, udh: Buffer | null): Promise<PartResult> {
    return this.window.run(async () => {
      await this.throttle.waitOut();
      const connection = await this.link.waitForLive(this.config.connectWaitMs);
      if (!connection) return NOT_CONNECTED;
      const pdu = new smpp.PDU('submit_sm', {
        source_addr: this.config.sourceAddr,
        destination_addr: msisdn,
        esm_class: udh ? ESM_CLASS_UDHI : 0,
        registered_delivery: 1,
        data_coding: encoding === 'UCS2' ? DATA_CODING_UCS2 : DATA_CODING_SMSC_DEFAULT,
        short_message: udh ? { udh, message: text } : { message: text },
      });
      return this.exchange(connection, pdu);
    });
  }

  /** Writes a submit_sm and resolves with its answer, or `unknown` when none comes. */
  private async exchange(connection: Connection, pdu: Pdu): Promise<PartResult> {
    const written = connection.session.send(pdu, (response) => connection.outstanding.answer(pdu.sequence_number, this.partResult(response)));
    if (!written) return NOT_CONNECTED;
    const answer = await connection.outstanding.response(pdu.sequence_number, this.config.responseTimeoutMs);
    if (answer === 'timeout') {
      return { kind: 'unknown', code: 'RESPONSE_TIMEOUT', message: `no submit_sm_resp within ${this.config.responseTimeoutMs} ms` };
    }
    if (answer === 'lost') return { kind: 'unknown', code: 'CONNECTION_LOST', message: 'the connection closed before the SMSC answered' };
    return answer;
  }

  private partResult(response: Pdu): PartResult {
    const status = response.command_status;
    if (status === ESME_ROK) {
      const id = response.message_id?.trim();
      if (!id) return { kind: 'unknown', code: 'NO_MESSAGE_ID', message: 'the SMSC took the part without giving a message id' };
      return { kind: 'accepted', id: normaliseMessageId(id, this.config.messageIdFormat.submit) };
    }
    if (BACK_OFF_STATUSES.has(status)) this.throttle.pauseFor(this.config.throttlePauseMs);
    const kind = RETRYABLE_STATUSES.has(status) ? 'retryable' : 'rejected';
    return { kind, code: commandStatusCode(status), message: `the SMSC answered ${describeStatus(status)}` };
  }

  private nextConcatenationRef(): number {
    this.concatenationRef = (this.concatenationRef + 1) % 256;
    return this.concatenationRef;
  }

  /** One attempt: TCP connect, then bind_transceiver. */
  private connect(): Connection {
    const session = smpp.connect({ host: this.config.host, port: this.config.port });
    const connection: Connection = { session, outstanding: new OutstandingRequests() };
    // One deadline for the TCP connect and the bind: a silent host must not keep us 'connecting'.
    connection.attemptTimer = setTimeout(() => {
      connection.failure = `no bind_transceiver_resp within ${this.config.responseTimeoutMs} ms`;
      session.destroy();
    }, this.config.responseTimeoutMs);
    session.on('connect', () => this.bind(connection));
    session.on('error', (error: Error) => {
      connection.socketError = error.message;
      // A PDU the library cannot parse leaves the session unable to read on: start over.
      session.destroy();
    });
    session.on('close', () => this.onClose(connection));
    session.on('deliver_sm', (pdu: Pdu) => this.onDeliverSm(connection, pdu));
    session.on('enquire_link', (pdu: Pdu) => {
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: Pdu) => {
      connection.failure = 'the SMSC unbound';
      session.send(pdu.response());
      session.close();
    });
    session.on('unknown', (pdu: Pdu) => {
      session.send(pdu.response());
    });
    return connection;
  }

  private bind(connection: Connection): void {
    const pdu = new smpp.PDU('bind_transceiver', {
      system_id: this.config.systemId,
      password: this.config.password,
      system_type: this.config.systemType ?? '',
      interface_version: INTERFACE_VERSION_34,
    });
    connection.session.send(pdu, (response) => {
      clearTimeout(connection.attemptTimer);
      if (!this.link.isCurrent(connection)) return;
      if (response.command_status !== ESME_ROK) {
        connection.failure = `bind refused: ${describeStatus(response.command_status)}`;
        connection.session.destroy();
        return;
      }
      this.logger.info({ host: this.config.host, port: this.config.port, systemId: this.config.systemId }, 'smpp bound');
      connection.enquireTimer = setInterval(() => this.enquireLink(connection), this.config.enquireLinkSeconds * 1_000);
      this.link.up(connection);
    });
  }

  private enquireLink(connection: Connection): void {
    const timer = setTimeout(() => {
      connection.failure = `no enquire_link_resp within ${this.config.responseTimeoutMs} ms`;
      connection.session.destroy();
    }, this.config.responseTimeoutMs);
    const written = connection.session.send(new smpp.PDU('enquire_link'), () => clearTimeout(timer));
    if (!written) clearTimeout(timer);
  }

  private async unbind(connection: Connection): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.min(this.config.responseTimeoutMs, UNBIND_WAIT_MS));
      const written = connection.session.send(new smpp.PDU('unbind'), () => {
        clearTimeout(timer);
        resolve();
      });
      if (!written) {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private onClose(connection: Connection): void {
    clearTimeout(connection.attemptTimer);
    clearInterval(connection.enquireTimer);
    connection.outstanding.loseAll();
    const reason = connection.failure ?? connection.socketError ?? 'the connection closed';
    const dropped = this.link.dropped(connection, reason);
    if (dropped === 'lost') this.logger.warn({ reason }, 'smpp connection lost');
    if (dropped === 'failed') this.logger.warn({ reason, consecutiveFailures: this.link.consecutiveFailures }, 'smpp bind failed');
  }

  private onDeliverSm(connection: Connection, pdu: Pdu): void {
    // Answered whatever it carries: an SMSC left without deliver_sm_resp stops delivering.
    connection.session.send(pdu.response());
    const receivedAt = new Date();
    const text = messageText(pdu);
    const type = (pdu.esm_class ?? 0) & ESM_CLASS_TYPE_MASK;
    if (type === ESM_CLASS_DELIVERY_RECEIPT || type === ESM_CLASS_INTERMEDIATE_NOTIFICATION) {
      const receipt = parseReceipt(
        {
          ...(pdu.receipted_message_id === undefined ? {} : { receiptedMessageId: pdu.receipted_message_id }),
          ...(pdu.message_state === undefined ? {} : { messageState: pdu.message_state }),
          text,
        },
        this.config.messageIdFormat,
        this.config.receiptUtcOffsetMinutes,
      );
      if (!receipt) {
        this.logger.warn({ esmClass: pdu.esm_class }, 'smpp receipt without message id');
        return;
      }
      this.listeners.emit('receipt', {
        gateway: this.name,
        gatewayMessageId: receipt.messageId,
        status: receipt.status,
        errorCode: receipt.errorCode,
        doneAt: receipt.doneAt,
        receivedAt,
      });
      return;
    }
    this.listeners.emit('mo', {
      gateway: this.name,
      msisdn: pdu.source_addr ?? '',
      to: pdu.destination_addr ?? '',
      text,
      receivedAt,
    });
  }
}

/** The text of a deliver_sm: short_message, or message_payload when short_message is empty. */
function messageText(pdu: Pdu): string {
  const short = contentText(pdu.short_message, pdu.data_coding);
  return short !== '' ? short : contentText(pdu.message_payload, pdu.data_coding);
}

function contentText(content: ShortMessage | undefined, dataCoding: number | null | undefined): string {
  if (content === undefined) return '';
  const message = typeof content === 'string' || Buffer.isBuffer(content) ? content : content.message;
  if (typeof message === 'string') return message;
  // The library decodes the codings it knows; bytes left over are UCS-2 or 8-bit data.
  if (((dataCoding ?? 0) & 0x0f) === DATA_CODING_UCS2) {
    return Buffer.from(message.subarray(0, message.length - (message.length % 2))).swap16().toString('utf16le');
  }
  return message.toString('latin1');
}
