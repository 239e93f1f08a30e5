import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { connectAuthenticator, ismgAuthenticator } from '../cmpp/cmpp.auth.js';
import { bodyOf, CmppFrameReader, decodePdu, encodePdu, encodeReport, writeCoalesced } from '../cmpp/cmpp.codec.js';
import { contentParts, decodeContent } from '../cmpp/cmpp.content.js';
import { versionOctet, type CmppPdu, type CmppPduOf, type CmppVersion, type ReportBody } from '../cmpp/cmpp.pdus.js';
import { composeMessageId } from '../cmpp/cmpp.receipt.js';
import { RESULT_FLOW_CONTROL } from '../cmpp/cmpp.results.js';
import { formatReceiptDate } from '../smpp/smpp.receipt.js';
import { PerSecondCap } from './rate-cap.js';
import { DelayedTasks, HeldReceipts } from './receipt-scheduler.js';
import { SeededDraws } from './seeded-draws.js';
import { SimulatorBehaviour } from './simulator.behaviour.js';
import { admitSubmit, type Admission } from './submit-admission.js';
import { closeServer, listenOn } from './simulator.server.js';
import { SubmitLedger } from './submit-ledger.js';

/** What the simulated ISMG does; every field can be changed while it runs (`configure`). */
export interface IsmgBehaviour {
  /** The enterprise code and shared secret a CONNECT must prove; undefined accepts any. */
  sourceAddr: string | undefined;
  sharedSecret: string | undefined;
  /** The highest version spoken; a CONNECT asking for more is answered Status 4. */
  maxVersion: CmppVersion;
  /** Delay before each SUBMIT_RESP. */
  latencyMs: number;
  /** Accepted SUBMITs per second, at most; over it the Result is 8 (flow control). 0 is no cap. */
  maxPerSecond: number;
  /** Fraction of SUBMITs answered Result 8 (flow control). */
  flowControlRate: number;
  /** Fraction of SUBMITs refused for good with `failureResult`. */
  failureRate: number;
  failureResult: number;
  /** Delay between the SUBMIT_RESP and the status report; negative sends no reports. */
  receiptDelayMs: number;
  /** Fraction of reports that say DELIVRD; the others say `failedStat`. */
  receiptStatus: number;
  /** The Stat of a report that is not DELIVRD: UNDELIV, or an operator code such as MK:0005. */
  failedStat: string;
  /** Until this time (ms since the epoch) every CONNECT is answered `refuseStatus`. */
  refuseConnectsUntil: number;
  /** 3: authentication error; 4: version too high. */
  refuseStatus: number;
  /** Dest_Id of MO messages when `sendMo` is not told one. */
  serviceNumber: string;
  /** The ISMG's clock is this many minutes ahead of UTC (report times, Msg_Id time fields). */
  utcOffsetMinutes: number;
}

export interface IsmgSimulatorOptions extends Partial<IsmgBehaviour> {
  /** 127.0.0.1 unless told otherwise: the simulator is for loopback. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** The ISMG code in Msg_Ids (22 bits). */
  ismgCode?: number;
  /** The first Msg_Id sequence; by default derived from the clock so ids do not repeat across restarts. */
  firstSequence?: number;
  /** Count submits per number (`submitsFor`, `messagesFor`); turn off for very large runs. */
  trackNumbers?: boolean;
  /** Seeds the draws for the rates, for reproducible runs. */
  seed?: number;
  logger?: Logger;
}

const STATUS_OK = 0;
const STATUS_BAD_SOURCE_ADDR = 2;
const STATUS_AUTHENTICATION = 3;
const STATUS_VERSION_TOO_HIGH = 4;
const RESULT_STRUCTURE_ERROR = 1;
// Reports for an SP that is not connected wait for its next CONNECT, up to this many.
const MAX_HELD_REPORTS = 100_000;

const DEFAULT_BEHAVIOUR: IsmgBehaviour = {
  sourceAddr: undefined,
  sharedSecret: undefined,
  maxVersion: 3,
  latencyMs: 0,
  maxPerSecond: 0,
  flowControlRate: 0,
  failureRate: 0,
  failureResult: 13,
  receiptDelayMs: 50,
  receiptStatus: 1,
  failedStat: 'UNDELIV',
  refuseConnectsUntil: 0,
  refuseStatus: STATUS_AUTHENTICATION,
  serviceNumber: '1069000',
  utcOffsetMinutes: 480,
};

interface IsmgSession {
  readonly socket: Socket;
  readonly reader: CmppFrameReader;
  /** Known once CONNECT said it. */
  version: CmppVersion;
  connected: boolean;
  nextSequence: number;
}

/** A status report waiting to go out; encoded for the version of the session that carries it. */
interface PendingReport {
  report: ReportBody;
  destId: string;
}

/**
 * An ISMG (China Mobile's SMS gateway) speaking CMPP 2.0 and 3.0 on node:net, for the tests, the
 * demo and the bench. It checks the CONNECT digest, answers SUBMITs with Msg_Ids composed as an
 * ISMG composes them, sends status reports (60 or 71 octets by the session's version) and MO
 * messages (long ones in parts with the UDH), and can refuse, throttle, fail and drop on demand.
 */
export class IsmgSimulator {
  private readonly settings: SimulatorBehaviour<IsmgBehaviour>;
  private readonly host: string;
  private readonly port: number;
  private readonly ismgCode: number;
  private readonly logger: Logger | undefined;
  private readonly draws: SeededDraws;
  private server: Server | null = null;
  private readonly sessions = new Set<IsmgSession>();
  private readonly tasks = new DelayedTasks();
  private readonly heldReports = new HeldReceipts<PendingReport>(MAX_HELD_REPORTS);
  private nextId: number;
  private moReference = 0;
  private smscSequence = 0;
  private readonly ledger: SubmitLedger;
  private readonly cap = new PerSecondCap();
  private deliverResponseCount = 0;
  private activeTestCount = 0;

  constructor(options: IsmgSimulatorOptions = {}) {
    const { host, port, ismgCode, firstSequence, trackNumbers, seed, logger, ...behaviour } = options;
    // Undefined credentials mean "accept any", so setting one to undefined is a change too.
    this.settings = new SimulatorBehaviour(DEFAULT_BEHAVIOUR, behaviour, ['sourceAddr', 'sharedSecret']);
    this.host = host ?? '127.0.0.1';
    this.port = port ?? 0;
    this.ismgCode = ismgCode ?? 0x1_0571;
    this.ledger = new SubmitLedger(trackNumbers ?? true);
    this.logger = logger;
    this.draws = new SeededDraws(seed);
    this.nextId = firstSequence ?? Date.now() % 2 ** 30;
  }

  private get behaviour(): Readonly<IsmgBehaviour> {
    return this.settings.current;
  }

  async start(): Promise<{ port: number }> {
    if (this.server) throw new Error('the ISMG simulator is already started');
    const server = createServer((socket) => this.onSocket(socket));
    this.server = server;
    const port = await listenOn(server, this.port, this.host);
    this.logger?.info({ host: this.host, port }, 'ismg simulator listening');
    return { port };
  }

  configure(change: Partial<IsmgBehaviour>): void {
    this.settings.configure(change);
  }

  /** Sends an MO message (in parts when long) to every connected SP; returns how many it was sent to. */
  sendMo(msisdn: string, text: string, to?: string): number {
    this.moReference = (this.moReference + 1) % 256;
    const parts = contentParts(text, this.moReference);
    let sent = 0;
    for (const session of this.sessions) {
      if (!session.connected) continue;
      for (const part of parts) {
        const body = bodyOf('DELIVER', {
          msgId: this.nextMessageId(),
          destId: to ?? this.behaviour.serviceNumber,
          tpUdhi: part.tpUdhi,
          msgFmt: part.msgFmt,
          srcTerminalId: msisdn,
          registeredDelivery: 0,
          msgContent: part.content,
        });
        this.send(session, { command: 'DELIVER', sequenceId: this.sequence(session), body });
      }
      sent += 1;
    }
    return sent;
  }

  /** Cuts every connection at once, as a network failure would (no TERMINATE). */
  dropConnections(): void {
    for (const session of this.sessions) session.socket.destroy();
  }

  /** Ends every connection the polite way: TERMINATE, then close. */
  terminateConnections(): void {
    for (const session of this.sessions) {
      this.send(session, { command: 'TERMINATE', sequenceId: this.sequence(session), body: {} });
      session.connected = false;
    }
  }

  /** Messages (a single submit, or a long message counted once) accepted for the number. */
  submitsFor(msisdn: string): number {
    return this.ledger.submitsFor(msisdn);
  }

  /** The texts accepted for the number, long messages put back together; a missing part shows as '…'. */
  messagesFor(msisdn: string): string[] {
    return this.ledger.messagesFor(msisdn);
  }

  /** Every SUBMIT received, whatever it was answered. */
  get totalSubmits(): number {
    return this.ledger.totalSubmits;
  }

  /** The SUBMITs answered Result 0 (one per part). */
  get acceptedSubmits(): number {
    return this.ledger.acceptedSubmits;
  }

  /** DELIVER_RESPs received (reports and MO parts the SP acknowledged). */
  get deliverResponses(): number {
    return this.deliverResponseCount;
  }

  /** ACTIVE_TESTs received from SPs. */
  get activeTests(): number {
    return this.activeTestCount;
  }

  get connectedSessions(): number {
    let count = 0;
    for (const session of this.sessions) if (session.connected) count += 1;
    return count;
  }

  /** Forgets counts and pending reports and goes back to the behaviour it was created with. */
  reset(): void {
    this.tasks.cancelAll();
    this.heldReports.clear();
    this.ledger.reset();
    this.deliverResponseCount = 0;
    this.activeTestCount = 0;
    this.cap.reset();
    this.settings.reset();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.tasks.cancelAll();
    for (const session of this.sessions) session.socket.destroy();
    await closeServer(server);
  }

  private sequence(session: IsmgSession): number {
    const sequence = session.nextSequence;
    session.nextSequence = sequence >= 0xffff_ffff ? 1 : sequence + 1;
    return sequence;
  }

  private send(session: IsmgSession, pdu: CmppPdu): boolean {
    if (session.socket.destroyed || !session.socket.writable) return false;
    writeCoalesced(session.socket, encodePdu(pdu, session.version));
    return true;
  }

  // Unique for 2^38 ids whatever the clock: the running count fills the sequence and spills into the ISMG code.
  private nextMessageId(): bigint {
    const n = this.nextId;
    this.nextId += 1;
    return composeMessageId(
      { at: new Date(), ismgCode: this.ismgCode + Math.floor(n / 65_536), sequence: n % 65_536 },
      this.behaviour.utcOffsetMinutes,
    );
  }

  private onSocket(socket: Socket): void {
    socket.setNoDelay(true);
    const session: IsmgSession = { socket, reader: new CmppFrameReader(), version: 2, connected: false, nextSequence: 1 };
    this.sessions.add(session);
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = session.reader.push(chunk);
      } catch (error) {
        this.logger?.debug({ err: error }, 'ismg simulator broken stream');
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        try {
          this.onPdu(session, decodePdu(frame, session.version));
        } catch (error) {
          this.logger?.debug({ err: error }, 'ismg simulator pdu not understood');
        }
      }
    });
    socket.on('error', (error: Error) => this.logger?.debug({ err: error }, 'ismg simulator socket error'));
    socket.on('close', () => this.sessions.delete(session));
  }

  private onPdu(session: IsmgSession, pdu: CmppPdu): void {
    switch (pdu.command) {
      case 'CONNECT':
        this.onConnect(session, pdu);
        return;
      case 'SUBMIT':
        this.onSubmit(session, pdu);
        return;
      case 'ACTIVE_TEST':
        this.activeTestCount += 1;
        this.send(session, { command: 'ACTIVE_TEST_RESP', sequenceId: pdu.sequenceId, body: { reserved: 0 } });
        return;
      case 'TERMINATE':
        session.connected = false;
        this.send(session, { command: 'TERMINATE_RESP', sequenceId: pdu.sequenceId, body: {} });
        session.socket.end();
        return;
      case 'TERMINATE_RESP':
        session.socket.end();
        return;
      case 'DELIVER_RESP':
        this.deliverResponseCount += 1;
        return;
      default:
        return;
    }
  }

  private onConnect(session: IsmgSession, pdu: CmppPduOf<'CONNECT'>): void {
    const { sourceAddr, authenticatorSource, version, timestamp } = pdu.body;
    // CONNECT is the same in both versions; the answer is written in the version asked for.
    session.version = version >= 0x30 ? 3 : 2;
    const status = this.connectStatus(session, sourceAddr, authenticatorSource, version, timestamp);
    const secret = this.behaviour.sharedSecret ?? '';
    const body = {
      status,
      authenticatorIsmg: ismgAuthenticator(status, authenticatorSource, secret, session.version),
      version: versionOctet(session.version),
    };
    this.send(session, { command: 'CONNECT_RESP', sequenceId: pdu.sequenceId, body });
    if (status !== STATUS_OK) {
      session.socket.end();
      return;
    }
    session.connected = true;
    for (const report of this.heldReports.release()) this.deliverReport(report, session);
  }

  private connectStatus(session: IsmgSession, sourceAddr: string, authenticator: Buffer, version: number, timestamp: number): number {
    const { refuseConnectsUntil, refuseStatus, maxVersion, sharedSecret } = this.behaviour;
    if (Date.now() < refuseConnectsUntil) return refuseStatus;
    if (version > versionOctet(maxVersion) + 0x0f) return STATUS_VERSION_TOO_HIGH;
    if (session.connected) return STATUS_AUTHENTICATION;
    if (this.behaviour.sourceAddr !== undefined && sourceAddr !== this.behaviour.sourceAddr) return STATUS_BAD_SOURCE_ADDR;
    if (sharedSecret !== undefined && !authenticator.equals(connectAuthenticator(sourceAddr, sharedSecret, timestamp))) {
      return STATUS_AUTHENTICATION;
    }
    return STATUS_OK;
  }

  private onSubmit(session: IsmgSession, pdu: CmppPduOf<'SUBMIT'>): void {
    this.ledger.submitted();
    const result = this.submitResult(session, pdu);
    if (result !== 0) {
      this.tasks.later(this.behaviour.latencyMs, () =>
        this.send(session, { command: 'SUBMIT_RESP', sequenceId: pdu.sequenceId, body: { msgId: 0n, result } }),
      );
      return;
    }
    const msgId = this.nextMessageId();
    const msisdn = pdu.body.destTerminalIds[0] ?? '';
    this.ledger.accepted(msisdn, () => decodeContent(pdu.body.msgContent, pdu.body.msgFmt, pdu.body.tpUdhi));
    const submittedAt = new Date();
    this.tasks.later(this.behaviour.latencyMs, () => {
      this.send(session, { command: 'SUBMIT_RESP', sequenceId: pdu.sequenceId, body: { msgId, result: 0 } });
      if (this.behaviour.receiptDelayMs < 0 || pdu.body.registeredDelivery !== 1) return;
      this.tasks.later(this.behaviour.receiptDelayMs, () =>
        this.deliverReport({ report: this.report(msgId, msisdn, submittedAt), destId: pdu.body.srcId }, session),
      );
    });
  }

  private submitResult(session: IsmgSession, pdu: CmppPduOf<'SUBMIT'>): number {
    if (!session.connected || pdu.body.destTerminalIds.length === 0) return RESULT_STRUCTURE_ERROR;
    const { maxPerSecond, flowControlRate, failureRate, failureResult } = this.behaviour;
    const answer: Record<Admission, number> = { accepted: 0, throttled: RESULT_FLOW_CONTROL, failed: failureResult };
    return answer[admitSubmit(this.cap, this.draws, { maxPerSecond, throttleRate: flowControlRate, failureRate })];
  }

  private report(msgId: bigint, msisdn: string, submittedAt: Date): ReportBody {
    const delivered = this.draws.next() < this.behaviour.receiptStatus;
    const offset = this.behaviour.utcOffsetMinutes;
    this.smscSequence = (this.smscSequence + 1) >>> 0;
    return {
      msgId,
      stat: delivered ? 'DELIVRD' : this.behaviour.failedStat,
      submitTime: formatReceiptDate(submittedAt, offset),
      doneTime: formatReceiptDate(new Date(), offset),
      destTerminalId: msisdn,
      smscSequence: this.smscSequence,
    };
  }

  /** To the session that submitted, else to any connected one, else held for the next CONNECT. */
  private deliverReport(pending: PendingReport, preferred: IsmgSession): void {
    const session = preferred.connected && !preferred.socket.destroyed ? preferred : [...this.sessions].find((s) => s.connected && !s.socket.destroyed);
    if (session) {
      const body = bodyOf('DELIVER', {
        msgId: this.nextMessageId(),
        destId: pending.destId,
        srcTerminalId: pending.report.destTerminalId,
        registeredDelivery: 1,
        msgContent: encodeReport(pending.report, session.version),
      });
      if (this.send(session, { command: 'DELIVER', sequenceId: this.sequence(session), body })) return;
    }
    this.heldReports.hold(pending);
  }
}
