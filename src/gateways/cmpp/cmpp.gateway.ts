import { Socket } from 'node:net';
import type { Logger } from 'pino';
import { z } from 'zod';
import { assertNever } from '../../util/assert-never.js';
import type { Gateway, GatewayEvents, GatewayStatus, OutboundMessage, SubmitOutcome } from '../gateway.js';
import { ConcurrencyLimit } from '../session/concurrency-limit.js';
import { GatewayListeners } from '../session/gateway-listeners.js';
import { submitEach, submitParts, type PartResult } from '../session/message-outcome.js';
import { OutstandingRequests, type NoResponse } from '../session/outstanding-requests.js';
import { Reconnector } from '../session/reconnector.js';
import { ThrottlePause } from '../session/throttle-pause.js';
import { MAX_PARTS } from '../sms-encoding.js';
import { cmppTimestamp, connectAuthenticator, ismgAuthenticator } from './cmpp.auth.js';
import { bodyOf, CmppFrameReader, decodePdu, decodeReport, encodePdu, writeCoalesced } from './cmpp.codec.js';
import { contentParts, decodeContent, type ContentPart } from './cmpp.content.js';
import { versionOctet, type CmppPdu, type CmppPduOf, type CmppVersion, type DeliverBody } from './cmpp.pdus.js';
import { messageIdString, receiptFromReport } from './cmpp.receipt.js';
import { classifyResult, describeConnectStatus, describeResult, RESULT_FLOW_CONTROL, resultCode } from './cmpp.results.js';

const printableAscii = (max: number) => z.string().regex(new RegExp(`^[ -~]{1,${max}}$`), `1–${max} printable ASCII characters`);

/**
 * A CMPP 2.0 / 3.0 gateway's configuration. Lengths are the protocol's fixed widths (Source_Addr
 * 6, Service_Id 10, Src_Id 21), so a bad value fails here and not in the middle of a send.
 */
export const cmppGatewayConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  /** The SP's enterprise code (企业代码, SP_Id): Source_Addr of CONNECT and Msg_src of SUBMIT. */
  sourceAddr: printableAscii(6),
  /** Proves who we are through the CONNECT digest; never sent, shown or logged. */
  sharedSecret: z.string().min(1).max(64),
  /** Service_Id (业务代码). */
  serviceId: z.string().regex(/^[ -~]{0,10}$/, 'at most 10 printable ASCII characters').default(''),
  /** Src_Id: our number (the SP service number 106…, possibly with an extension). */
  srcId: printableAscii(21),
  version: z.union([z.literal(2), z.literal(3)]).default(2),
  /** SUBMITs written and not yet answered, at most (the spec's sliding window; 16 is the usual licence). */
  maxOutstanding: z.number().int().min(1).max(1_000).default(16),
  /** Idle heartbeat (ACTIVE_TEST) period. */
  activeTestSeconds: z.number().positive().max(3_600).default(60),
  /** For every answer we wait for: SUBMIT_RESP, CONNECT_RESP (including the TCP connect), ACTIVE_TEST_RESP. */
  responseTimeoutMs: z.number().int().min(10).default(10_000),
  reconnectMinMs: z.number().int().min(10).default(1_000),
  reconnectMaxMs: z.number().int().min(10).default(60_000),
  /** How long a submit waits for a (re)connection before answering `retryable` NOT_CONNECTED. */
  connectWaitMs: z.number().int().min(0).default(2_000),
  /** How long submitting stops after a flow-control Result. */
  throttlePauseMs: z.number().int().min(0).default(1_000),
  /** SUBMIT_RESP Results that mean "not taken, try later"; 8 is flow control. Operators add their own. */
  retryableResults: z.array(z.number().int().min(1).max(0xffff_ffff)).default([RESULT_FLOW_CONTROL]),
  /** Fee_UserType: 2 charges the SP, never the customer (marketing is free to receive). */
  feeUserType: z.number().int().min(0).max(3).default(2),
  /** FeeType: 01 free. */
  feeType: z.string().regex(/^\d{2}$/).default('01'),
  /** FeeCode in fen. */
  feeCode: z.string().regex(/^\d{1,6}$/).default('000000'),
  /** Check the ISMG's digest in CONNECT_RESP (some ISMGs send zeros there). */
  verifyIsmgAuthenticator: z.boolean().default(false),
  /** The ISMG's time zone in minutes ahead of UTC, for the CONNECT timestamp and report times (480: China). */
  utcOffsetMinutes: z.number().int().min(-720).max(840).default(480),
  /** How long the parts of a long MO message wait for their siblings before what arrived is passed on. */
  moReassemblyMs: z.number().int().min(0).default(30_000),
});

export type CmppGatewayConfig = z.output<typeof cmppGatewayConfigSchema>;
export type CmppGatewayConfigInput = z.input<typeof cmppGatewayConfigSchema>;

export interface CmppGatewayOptions {
  name: string;
  /** Validated here with `cmppGatewayConfigSchema`, so defaults may be left out. */
  config: CmppGatewayConfigInput;
  logger: Logger;
}

const TERMINATE_WAIT_MS = 2_000;
const ACTIVE_TEST_TAG = 'active-test';

const NOT_CONNECTED: PartResult = { kind: 'retryable', code: 'NOT_CONNECTED', message: 'the CMPP gateway is not connected' };

interface Connection {
  readonly socket: Socket;
  readonly reader: CmppFrameReader;
  readonly version: CmppVersion;
  nextSequence: number;
  failure?: string;
  socketError?: string;
  /** Each written, unanswered request by Sequence_Id (SUBMITs and control requests alike). */
  readonly outstanding: OutstandingRequests<CmppPdu>;
  attemptTimer?: NodeJS.Timeout;
  activeTestTimer?: NodeJS.Timeout;
  lastReceivedAt: number;
}

interface PendingMo {
  parts: Array<string | undefined>;
  to: string;
  timer: NodeJS.Timeout;
}

/**
 * An SP's CMPP 2.0 / 3.0 connection to an ISMG (transmitter and receiver on one TCP connection).
 * It connects when constructed and stays connected (ACTIVE_TEST when idle, reconnects with
 * exponential backoff and jitter) until `close()`.
 */
export class CmppGateway implements Gateway {
  readonly name: string;
  private readonly config: CmppGatewayConfig;
  private readonly logger: Logger;
  private readonly retryable: ReadonlySet<number>;
  /** The CONNECTed link kept up. */
  private readonly link: Reconnector<Connection>;
  private readonly window: ConcurrencyLimit;
  private readonly throttle = new ThrottlePause();
  private concatenationRef = 0;
  private readonly pendingMo = new Map<string, PendingMo>();
  private readonly listeners: GatewayListeners;

  constructor(options: CmppGatewayOptions) {
    this.name = options.name;
    this.config = cmppGatewayConfigSchema.parse(options.config);
    this.retryable = new Set(this.config.retryableResults);
    this.logger = options.logger.child({ gateway: options.name });
    this.listeners = new GatewayListeners(this.logger, 'cmpp listener failed');
    this.window = new ConcurrencyLimit(this.config.maxOutstanding);
    this.link = new Reconnector(this.config, () => this.connect());
    this.link.start();
  }

  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    return submitEach(
      batch,
      (message) => this.submitMessage(message),
      (error, message) => this.logger.error({ err: error, ref: message.ref }, 'cmpp submit failed'),
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
    for (const key of [...this.pendingMo.keys()]) this.flushMo(key);
    const connection = this.link.connection;
    if (!connection) return;
    if (this.link.live) {
      await this.request(connection, { command: 'TERMINATE', sequenceId: 0, body: {} }, Math.min(this.config.responseTimeoutMs, TERMINATE_WAIT_MS));
    }
    if (!connection.socket.destroyed) {
      await new Promise<void>((resolve) => {
        connection.socket.once('close', () => resolve());
        connection.socket.destroy();
      });
    }
  }

  private async submitMessage(message: OutboundMessage): Promise<SubmitOutcome> {
    const { ref } = message;
    if (message.text.length === 0) return { kind: 'rejected', ref, code: 'EMPTY_TEXT', message: 'the text is empty' };
    const parts = contentParts(message.text, this.nextConcatenationRef());
    const total = parts.length;
    if (total > MAX_PARTS) {
      return { kind: 'rejected', ref, code: 'TOO_MANY_PARTS', message: `the text needs ${total} parts, more than ${MAX_PARTS}` };
    }
    return submitParts(ref, parts, (part) => this.submitPart(message.msisdn, part), this.config.throttlePauseMs);
  }

  private submitPart(msisdn: string, part: ContentPart): Promise<PartResult> {
    return this.window.run(async () => {
      await this.throttle.waitOut();
      const connection = await this.link.waitForLive(this.config.connectWaitMs);
      if (!connection) return NOT_CONNECTED;
      const body = bodyOf('SUBMIT', {
        pkTotal: part.pkTotal,
        pkNumber: part.pkNumber,
        registeredDelivery: 1,
        serviceId: this.config.serviceId,
        feeUserType: this.config.feeUserType,
        tpUdhi: part.tpUdhi,
        msgFmt: part.msgFmt,
        msgSrc: this.config.sourceAddr,
        feeType: this.config.feeType,
        feeCode: this.config.feeCode,
        srcId: this.config.srcId,
        destTerminalIds: [msisdn],
        msgContent: part.content,
      });
      const response = await this.request(connection, { command: 'SUBMIT', sequenceId: 0, body }, this.config.responseTimeoutMs);
      return this.partResult(response);
    });
  }

  private partResult(response: CmppPdu | NoResponse | 'unwritten'): PartResult {
    if (response === 'unwritten') return NOT_CONNECTED;
    if (response === 'timeout') {
      return { kind: 'unknown', code: 'RESPONSE_TIMEOUT', message: `no SUBMIT_RESP within ${this.config.responseTimeoutMs} ms` };
    }
    if (response === 'lost') return { kind: 'unknown', code: 'CONNECTION_LOST', message: 'the connection closed before the ISMG answered' };
    if (response.command !== 'SUBMIT_RESP') {
      return { kind: 'unknown', code: 'UNEXPECTED_RESPONSE', message: `the ISMG answered a SUBMIT with ${response.command}` };
    }
    const { result, msgId } = response.body;
    switch (classifyResult(result, this.retryable)) {
      case 'accepted':
        return { kind: 'accepted', id: messageIdString(msgId) };
      case 'retryable':
        if (result === RESULT_FLOW_CONTROL) this.throttle.pauseFor(this.config.throttlePauseMs);
        return { kind: 'retryable', code: resultCode(result), message: `the ISMG answered ${describeResult(result)}` };
      case 'rejected':
        return { kind: 'rejected', code: resultCode(result), message: `the ISMG answered ${describeResult(result)}` };
    }
  }

  /**
   * Writes a request and resolves with its response, or says why none came: `timeout`, `lost`
   * (the connection closed first) or `unwritten` (the connection was already gone).
   */
  private async request(connection: Connection, pdu: CmppPdu, timeoutMs: number): Promise<CmppPdu | NoResponse | 'unwritten'> {
    if (connection.socket.destroyed || !connection.socket.writable) return 'unwritten';
    const sequenceId = this.nextSequence(connection);
    const response = connection.outstanding.response(sequenceId, timeoutMs);
    writeCoalesced(connection.socket, encodePdu({ ...pdu, sequenceId } as CmppPdu, connection.version));
    return response;
  }

  private nextSequence(connection: Connection): number {
    const sequence = connection.nextSequence;
    connection.nextSequence = sequence >= 0xffff_ffff ? 1 : sequence + 1;
    return sequence;
  }

  private nextConcatenationRef(): number {
    this.concatenationRef = (this.concatenationRef + 1) % 256;
    return this.concatenationRef;
  }

  /** One attempt: TCP connect, then CONNECT. */
  private connect(): Connection {
    const socket = new Socket();
    socket.setNoDelay(true);
    const connection: Connection = {
      socket,
      reader: new CmppFrameReader(),
      version: this.config.version,
      nextSequence: 1,
      outstanding: new OutstandingRequests(),
      lastReceivedAt: Date.now(),
    };
    // One deadline for the TCP connect and the CONNECT: a silent host must not keep us 'connecting'.
    connection.attemptTimer = setTimeout(() => {
      connection.failure = `no CONNECT_RESP within ${this.config.responseTimeoutMs} ms`;
      socket.destroy();
    }, this.config.responseTimeoutMs);
    socket.on('connect', () => void this.login(connection));
    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    socket.on('error', (error: Error) => {
      connection.socketError = error.message;
    });
    socket.on('close', () => this.onClose(connection));
    socket.connect({ host: this.config.host, port: this.config.port });
    return connection;
  }

  private async login(connection: Connection): Promise<void> {
    const { sourceAddr, sharedSecret, version } = this.config;
    const timestamp = cmppTimestamp(new Date(), this.config.utcOffsetMinutes);
    const authenticatorSource = connectAuthenticator(sourceAddr, sharedSecret, timestamp);
    const response = await this.request(
      connection,
      { command: 'CONNECT', sequenceId: 0, body: { sourceAddr, authenticatorSource, version: versionOctet(version), timestamp } },
      this.config.responseTimeoutMs,
    );
    clearTimeout(connection.attemptTimer);
    if (!this.link.isCurrent(connection) || typeof response === 'string') return;
    if (response.command !== 'CONNECT_RESP') {
      this.fail(connection, `the ISMG answered CONNECT with ${response.command}`);
      return;
    }
    const { status, authenticatorIsmg } = response.body;
    if (status !== 0) {
      this.fail(connection, `connect refused: ${describeConnectStatus(status)}`);
      return;
    }
    if (this.config.verifyIsmgAuthenticator && !authenticatorIsmg.equals(ismgAuthenticator(status, authenticatorSource, sharedSecret, version))) {
      this.fail(connection, 'the ISMG did not prove it holds the shared secret (AuthenticatorISMG mismatch)');
      return;
    }
    this.logger.info({ host: this.config.host, port: this.config.port, sourceAddr, version }, 'cmpp connected');
    this.scheduleActiveTest(connection);
    this.link.up(connection);
  }

  private fail(connection: Connection, reason: string): void {
    connection.failure = reason;
    connection.socket.destroy();
  }

  /** ACTIVE_TEST after `activeTestSeconds` without anything received; no answer in time drops the link. */
  private scheduleActiveTest(connection: Connection): void {
    const periodMs = this.config.activeTestSeconds * 1_000;
    connection.activeTestTimer = setTimeout(async () => {
      if (connection.socket.destroyed) return;
      if (Date.now() - connection.lastReceivedAt < periodMs) {
        this.scheduleActiveTest(connection);
        return;
      }
      const response = await this.request(connection, { command: 'ACTIVE_TEST', sequenceId: 0, body: {} }, this.config.responseTimeoutMs);
      if (response === 'timeout') {
        this.fail(connection, `no ACTIVE_TEST_RESP within ${this.config.responseTimeoutMs} ms`);
        return;
      }
      if (typeof response !== 'string') this.scheduleActiveTest(connection);
    }, Math.max(periodMs - (Date.now() - connection.lastReceivedAt), 10));
    connection.activeTestTimer.unref?.();
  }

  private onData(connection: Connection, chunk: Buffer): void {
    connection.lastReceivedAt = Date.now();
    let frames: Buffer[];
    try {
      frames = connection.reader.push(chunk);
    } catch (error) {
      this.fail(connection, `broken stream: ${(error as Error).message}`);
      return;
    }
    for (const frame of frames) {
      let pdu: CmppPdu;
      try {
        pdu = decodePdu(frame, connection.version);
      } catch (error) {
        // A PDU we cannot read is skipped, the stream itself is intact (its length was good).
        this.logger.warn({ err: error }, 'cmpp pdu not understood');
        continue;
      }
      this.onPdu(connection, pdu);
    }
  }

  private onPdu(connection: Connection, pdu: CmppPdu): void {
    switch (pdu.command) {
      case 'CONNECT_RESP':
      case 'SUBMIT_RESP':
      case 'ACTIVE_TEST_RESP':
      case 'TERMINATE_RESP':
        connection.outstanding.answer(pdu.sequenceId, pdu);
        return;
      case 'DELIVER':
        this.onDeliver(connection, pdu);
        return;
      case 'ACTIVE_TEST':
        this.reply(connection, { command: 'ACTIVE_TEST_RESP', sequenceId: pdu.sequenceId, body: { reserved: 0 } });
        return;
      case 'TERMINATE':
        connection.failure = 'the ISMG terminated the connection';
        this.reply(connection, { command: 'TERMINATE_RESP', sequenceId: pdu.sequenceId, body: {} });
        connection.socket.end();
        return;
      case 'CONNECT':
      case 'SUBMIT':
      case 'DELIVER_RESP':
        this.logger.warn({ command: pdu.command }, 'cmpp unexpected pdu from the ISMG');
        return;
      default:
        return assertNever(pdu);
    }
  }

  private reply(connection: Connection, pdu: CmppPdu): void {
    if (!connection.socket.destroyed) writeCoalesced(connection.socket, encodePdu(pdu, connection.version));
  }

  private onDeliver(connection: Connection, pdu: CmppPduOf<'DELIVER'>): void {
    const body = pdu.body;
    // Answered whatever it carries: an ISMG left without DELIVER_RESP delivers it again, and again.
    this.reply(connection, { command: 'DELIVER_RESP', sequenceId: pdu.sequenceId, body: { msgId: body.msgId, result: 0 } });
    const receivedAt = new Date();
    if (body.registeredDelivery === 1) {
      let receipt;
      try {
        receipt = receiptFromReport(decodeReport(body.msgContent, connection.version), this.config.utcOffsetMinutes);
      } catch (error) {
        this.logger.warn({ err: error, length: body.msgContent.length }, 'cmpp status report not understood');
        return;
      }
      this.listeners.emit('receipt', { gateway: this.name, gatewayMessageId: receipt.messageId, status: receipt.status, errorCode: receipt.errorCode, doneAt: receipt.doneAt, receivedAt });
      return;
    }
    this.onMo(body, receivedAt);
  }

  private onMo(body: DeliverBody, receivedAt: Date): void {
    const { text, concatenation } = decodeContent(body.msgContent, body.msgFmt, body.tpUdhi);
    const msisdn = body.srcTerminalId;
    if (!concatenation || concatenation.total <= 1) {
      this.listeners.emit('mo', { gateway: this.name, msisdn, to: body.destId, text, receivedAt });
      return;
    }
    // The parts of a long reply arrive as separate DELIVERs: put back together before anyone reads it.
    const key = `${msisdn}|${concatenation.reference}|${concatenation.total}`;
    let pending = this.pendingMo.get(key);
    if (!pending) {
      pending = {
        parts: Array.from({ length: concatenation.total }, () => undefined),
        to: body.destId,
        timer: setTimeout(() => this.flushMo(key), this.config.moReassemblyMs),
      };
      this.pendingMo.set(key, pending);
    }
    pending.parts[concatenation.sequence - 1] = text;
    if (!pending.parts.includes(undefined)) this.flushMo(key);
  }

  /** Passes on a long MO message, whole or, after the wait, with the parts that came. */
  private flushMo(key: string): void {
    const pending = this.pendingMo.get(key);
    if (!pending) return;
    this.pendingMo.delete(key);
    clearTimeout(pending.timer);
    const msisdn = key.slice(0, key.indexOf('|'));
    this.listeners.emit('mo', { gateway: this.name, msisdn, to: pending.to, text: pending.parts.filter((part) => part !== undefined).join(''), receivedAt: new Date() });
  }

  private onClose(connection: Connection): void {
    clearTimeout(connection.attemptTimer);
    clearTimeout(connection.activeTestTimer);
    connection.outstanding.loseAll();
    const reason = connection.failure ?? connection.socketError ?? 'the connection closed';
    const dropped = this.link.dropped(connection, reason);
    if (dropped === 'lost') this.logger.warn({ reason }, 'cmpp connection lost');
    if (dropped === 'failed') this.logger.warn({ reason, consecutiveFailures: this.link.consecutiveFailures }, 'cmpp connect failed');
  }
}
