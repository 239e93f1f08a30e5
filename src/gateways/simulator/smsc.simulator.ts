import type { Logger } from 'pino';
import smpp, { type Pdu, type Server, type Session } from 'smpp';
import { encodeSms } from '../sms-encoding.js';
import { formatReceiptDate, formatReceiptText, type ReceiptStatus } from '../smpp/smpp.receipt.js';
import { PerSecondCap } from './rate-cap.js';
import { DelayedTasks, HeldReceipts } from './receipt-scheduler.js';
import { SeededDraws } from './seeded-draws.js';
import { SimulatorBehaviour } from './simulator.behaviour.js';
import { admitSubmit, type Admission } from './submit-admission.js';
import { closeServer, listenOn } from './simulator.server.js';
import { SubmitLedger, type Concatenation } from './submit-ledger.js';

/** What the simulated SMSC does; every field can be changed while it runs (`configure`). */
export interface SmscBehaviour {
  /** The credentials binds must present; undefined accepts any. */
  systemId: string | undefined;
  password: string | undefined;
  /** Delay before each submit_sm_resp. */
  latencyMs: number;
  /** Accepted submit_sm per second, at most; over it the answer is ESME_RTHROTTLED. 0 is no cap. */
  maxPerSecond: number;
  /** Fraction of submit_sm answered ESME_RTHROTTLED. */
  throttleRate: number;
  /** Fraction of submit_sm refused for good with `failureStatus`. */
  failureRate: number;
  failureStatus: number;
  /** Delay between the submit_sm_resp and the receipt; negative sends no receipts. */
  receiptDelayMs: number;
  /** Fraction of receipts that say DELIVRD; the others say UNDELIV. */
  receiptStatus: number;
  /** Until this time (ms since the epoch) every bind is answered ESME_RBINDFAIL. */
  refuseBindsUntil: number;
  /** The number MO messages are written to when `sendMo` is not told one. */
  serviceNumber: string;
  /** Receipt dates are written this many minutes ahead of UTC. */
  receiptUtcOffsetMinutes: number;
}

export interface SmscSimulatorOptions extends Partial<SmscBehaviour> {
  /** 127.0.0.1 unless told otherwise: the simulator is for loopback. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The first message id; by default derived from the clock so ids do not repeat across restarts. */
  firstMessageId?: number;
  /** Count submits per number (`submitsFor`, `messagesFor`); turn off for very large runs. */
  trackNumbers?: boolean;
  /** Seeds the draws for the rates, for reproducible runs. */
  seed?: number;
  logger?: Logger;
}

const ESME_ROK = 0x00;
const ESME_RINVBNDSTS = 0x04;
const ESME_RALYBND = 0x05;
const ESME_RINVDSTADR = 0x0b;
const ESME_RBINDFAIL = 0x0d;
const ESME_RINVPASWD = 0x0e;
const ESME_RINVSYSID = 0x0f;
const ESME_RTHROTTLED = 0x58;
const ESM_CLASS_DELIVERY_RECEIPT = 0x04;
const MESSAGE_STATE_DELIVERED = 2;
const MESSAGE_STATE_UNDELIVERABLE = 5;
const DATA_CODING_SMSC_DEFAULT = 0x00;
const DATA_CODING_UCS2 = 0x08;
// Receipts for an ESME that is not bound wait for its next bind, up to this many.
const MAX_HELD_RECEIPTS = 100_000;

const DEFAULT_BEHAVIOUR: SmscBehaviour = {
  systemId: undefined,
  password: undefined,
  latencyMs: 0,
  maxPerSecond: 0,
  throttleRate: 0,
  failureRate: 0,
  failureStatus: ESME_RINVDSTADR,
  receiptDelayMs: 50,
  receiptStatus: 1,
  refuseBindsUntil: 0,
  serviceNumber: '1069000',
  receiptUtcOffsetMinutes: 0,
};

/**
 * An SMSC on the smpp package's server side, for the product (the `simulator` gateway), the tests
 * and the bench. Message ids are answered in hex in submit_sm_resp (and the receipted_message_id
 * TLV) but written in decimal in the receipt text, as real SMSCs do, so that the adapters'
 * id normalisation is exercised on every run.
 */
export class SmscSimulator {
  private readonly settings: SimulatorBehaviour<SmscBehaviour>;
  private readonly host: string;
  private readonly port: number;
  private readonly logger: Logger | undefined;
  private readonly draws: SeededDraws;
  private server: Server | null = null;
  private readonly bound = new Set<Session>();
  private readonly tasks = new DelayedTasks();
  private readonly heldReceipts = new HeldReceipts<Pdu>(MAX_HELD_RECEIPTS);
  private nextMessageId: number;
  private readonly ledger: SubmitLedger;
  private readonly cap = new PerSecondCap();

  constructor(options: SmscSimulatorOptions = {}) {
    const { host, port, firstMessageId, trackNumbers, seed, logger, ...behaviour } = options;
    // Undefined credentials mean "accept any", so setting one to undefined is a change too.
    this.settings = new SimulatorBehaviour(DEFAULT_BEHAVIOUR, behaviour, ['systemId', 'password']);
    this.host = host ?? '127.0.0.1';
    this.port = port ?? 0;
    this.ledger = new SubmitLedger(trackNumbers ?? true);
    this.logger = logger;
    this.draws = new SeededDraws(seed);
    this.nextMessageId = firstMessageId ?? Date.now() * 1_000;
  }

  private get behaviour(): Readonly<SmscBehaviour> {
    return this.settings.current;
  }

  async start(): Promise<{ port: number }> {
    if (this.server) throw new Error('the SMSC simulator is already started');
    const server = smpp.createServer((session) => this.onSession(session));
    this.server = server;
    const port = await listenOn(server, this.port, this.host);
    this.logger?.info({ host: this.host, port }, 'smsc simulator listening');
    return { port };
  }

  configure(change: Partial<SmscBehaviour>): void {
    this.settings.configure(change);
  }

  /** Sends an MO message to every bound ESME; returns how many it was sent to. */
  sendMo(msisdn: string, text: string, to?: string): number {
    const encoded = encodeSms(text);
    // Longer than one message: the whole text goes in message_payload rather than in parts.
    const content = encoded.parts.length > 1 ? { message_payload: { message: text } } : { short_message: { message: text } };
    let sent = 0;
    for (const session of this.bound) {
      const pdu = new smpp.PDU('deliver_sm', {
        source_addr: msisdn,
        destination_addr: to ?? this.behaviour.serviceNumber,
        esm_class: 0,
        data_coding: encoded.encoding === 'UCS2' ? DATA_CODING_UCS2 : DATA_CODING_SMSC_DEFAULT,
        ...content,
      });
      if (session.send(pdu)) sent += 1;
    }
    return sent;
  }

  /** Cuts every connection at once, as a network failure would (no unbind). */
  dropConnections(): void {
    for (const session of this.server?.sessions ?? []) session.destroy();
  }

  /** Messages (a single submit, or a concatenated message counted once) accepted for the number. */
  submitsFor(msisdn: string): number {
    return this.ledger.submitsFor(msisdn);
  }

  /** The texts accepted for the number, concatenated parts put back together; a missing part shows as '…'. */
  messagesFor(msisdn: string): string[] {
    return this.ledger.messagesFor(msisdn);
  }

  /** Every submit_sm received, whatever it was answered. */
  get totalSubmits(): number {
    return this.ledger.totalSubmits;
  }

  /** The submit_sm answered ESME_ROK (one per part). */
  get acceptedSubmits(): number {
    return this.ledger.acceptedSubmits;
  }

  get boundSessions(): number {
    return this.bound.size;
  }

  /** Forgets counts and pending receipts and goes back to the behaviour it was created with. */
  reset(): void {
    this.tasks.cancelAll();
    this.heldReceipts.clear();
    this.ledger.reset();
    this.cap.reset();
    this.settings.reset();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.tasks.cancelAll();
    for (const session of server.sessions) session.destroy();
    await closeServer(server);
  }

  private onSession(session: Session): void {
    session.on('error', (error: Error) => {
      this.logger?.debug({ err: error }, 'smsc simulator session error');
      session.destroy();
    });
    session.on('close', () => this.bound.delete(session));
    for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
      session.on(command, (pdu: Pdu) => this.onBind(session, pdu));
    }
    session.on('submit_sm', (pdu: Pdu) => this.onSubmit(session, pdu));
    session.on('enquire_link', (pdu: Pdu) => {
      session.send(pdu.response());
    });
    session.on('unbind', (pdu: Pdu) => {
      this.bound.delete(session);
      session.send(pdu.response(), () => session.close());
    });
    session.on('unknown', (pdu: Pdu) => {
      session.send(pdu.response());
    });
  }

  private onBind(session: Session, pdu: Pdu): void {
    const status = this.bindStatus(session, pdu);
    if (status !== ESME_ROK) {
      session.send(pdu.response({ command_status: status }), () => session.close());
      return;
    }
    this.bound.add(session);
    session.send(pdu.response({ system_id: 'QUANKE-SIM' }));
    for (const receipt of this.heldReceipts.release()) this.deliverReceipt(receipt, session);
  }

  private bindStatus(session: Session, pdu: Pdu): number {
    const { systemId, password, refuseBindsUntil } = this.behaviour;
    if (Date.now() < refuseBindsUntil) return ESME_RBINDFAIL;
    if (this.bound.has(session)) return ESME_RALYBND;
    if (systemId !== undefined && pdu.system_id !== systemId) return ESME_RINVSYSID;
    if (password !== undefined && pdu.password !== password) return ESME_RINVPASWD;
    return ESME_ROK;
  }

  private onSubmit(session: Session, pdu: Pdu): void {
    this.ledger.submitted();
    const status = this.submitStatus(session);
    if (status !== ESME_ROK) {
      this.tasks.later(this.behaviour.latencyMs, () => session.send(pdu.response({ command_status: status })));
      return;
    }
    const id = this.nextMessageId;
    this.nextMessageId += 1;
    const msisdn = pdu.destination_addr ?? '';
    this.ledger.accepted(msisdn, () => contentOf(pdu));
    const submittedAt = new Date();
    this.tasks.later(this.behaviour.latencyMs, () => {
      session.send(pdu.response({ message_id: hexId(id) }));
      if (this.behaviour.receiptDelayMs < 0) return;
      this.tasks.later(this.behaviour.receiptDelayMs, () =>
        this.deliverReceipt(this.receipt(id, msisdn, pdu.source_addr ?? '', submittedAt), session),
      );
    });
  }

  private submitStatus(session: Session): number {
    if (!this.bound.has(session)) return ESME_RINVBNDSTS;
    const answer: Record<Admission, number> = { accepted: ESME_ROK, throttled: ESME_RTHROTTLED, failed: this.behaviour.failureStatus };
    return answer[admitSubmit(this.cap, this.draws, this.behaviour)];
  }

  private receipt(id: number, msisdn: string, ourNumber: string, submittedAt: Date): Pdu {
    const delivered = this.draws.next() < this.behaviour.receiptStatus;
    const stat: ReceiptStatus = delivered ? 'DELIVRD' : 'UNDELIV';
    const offset = this.behaviour.receiptUtcOffsetMinutes;
    const text = formatReceiptText({
      id: String(id),
      submitDate: formatReceiptDate(submittedAt, offset),
      doneDate: formatReceiptDate(new Date(), offset),
      stat,
      err: delivered ? '000' : '001',
    });
    return new smpp.PDU('deliver_sm', {
      source_addr: msisdn,
      destination_addr: ourNumber,
      esm_class: ESM_CLASS_DELIVERY_RECEIPT,
      data_coding: DATA_CODING_SMSC_DEFAULT,
      short_message: { message: text },
      receipted_message_id: hexId(id),
      message_state: delivered ? MESSAGE_STATE_DELIVERED : MESSAGE_STATE_UNDELIVERABLE,
    });
  }

  /** To the session that submitted, else to any bound one, else held for the next bind. */
  private deliverReceipt(receipt: Pdu, preferred: Session): void {
    const session = this.bound.has(preferred) ? preferred : this.bound.values().next().value;
    if (!session?.send(receipt)) this.heldReceipts.hold(receipt);
  }
}

/** The id as submit_sm_resp spells it: upper-case hex, zero-padded to 16 digits. */
function hexId(id: number): string {
  return id.toString(16).toUpperCase().padStart(16, '0');
}

/** The text of a submit_sm and the concatenation IE of its UDH, if there is one. */
function contentOf(pdu: Pdu): { text: string; concatenation: Concatenation | null } {
  const content = pdu.short_message;
  const text = content === undefined || typeof content === 'string' || Buffer.isBuffer(content) ? '' : String(content.message);
  const udh = content !== undefined && typeof content === 'object' && !Buffer.isBuffer(content) ? content.udh : undefined;
  return { text, concatenation: concatenationOf(Array.isArray(udh) ? udh : []) };
}

/** The concatenation IE of a UDH (8-bit or 16-bit reference), if there is one. */
function concatenationOf(elements: readonly Buffer[]): Concatenation | null {
  for (const element of elements) {
    if (element[0] === 0x00 && element.length >= 5) {
      return { reference: element[2] ?? 0, total: element[3] ?? 1, sequence: element[4] ?? 1 };
    }
    if (element[0] === 0x08 && element.length >= 6) {
      return { reference: element.readUInt16BE(2), total: element[4] ?? 1, sequence: element[5] ?? 1 };
    }
  }
  return null;
}
