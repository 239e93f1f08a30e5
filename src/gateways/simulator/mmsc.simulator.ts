import http from 'node:http';
import type { Logger } from 'pino';
import { parseSubmitRequest, type ReceivedMms } from '../mm7/mm7.content.js';
import { buildDeliveryReportReq, buildFault, buildSubmitRsp, MM7_STATUS, parseDeliveryReportRsp, type MmStatus } from '../mm7/mm7.soap.js';
import { DelayedTasks } from './receipt-scheduler.js';
import { SeededDraws } from './seeded-draws.js';
import { SimulatorBehaviour } from './simulator.behaviour.js';
import { closeServer, listenOn } from './simulator.server.js';

/** What the simulated MMSC does; every field can be changed while it runs (`configure`). */
export interface MmscBehaviour {
  /** HTTP basic credentials SubmitReq must carry; undefined accepts any (or none). */
  username: string | undefined;
  password: string | undefined;
  /** Delay before each SubmitRsp. */
  latencyMs: number;
  /** False: a SubmitReq with more than one recipient is answered 3003 (multiple addresses not supported). */
  multipleRecipients: boolean;
  /** Fraction of multi-recipient SubmitReq answered 1100, the last recipient named as failed. */
  partialRate: number;
  /** Fraction of SubmitReq refused with `failureStatus` (a 2xxx client error by default). */
  failureRate: number;
  failureStatus: number;
  /** Fraction of SubmitReq answered with a 3000 server-error SOAP fault (HTTP 500). */
  serverErrorRate: number;
  /** Where DeliveryReportReq go; undefined sends none. */
  callbackUrl: string | undefined;
  /** The Authorization header sent with them. */
  callbackAuthorization: string | undefined;
  /** Delay between the SubmitRsp and each recipient's DeliveryReportReq; negative sends none. */
  reportDelayMs: number;
  /** Fraction of reports that say Retrieved; the others say `failedReportStatus`. */
  retrievedRate: number;
  failedReportStatus: MmStatus;
}

export interface MmscSimulatorOptions extends Partial<MmscBehaviour> {
  /** 127.0.0.1 unless told otherwise: the simulator is for loopback. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Keep every accepted MMS per number (`messagesFor`); turn off for very large runs. */
  trackNumbers?: boolean;
  /** Seeds the draws for the rates, for reproducible runs. */
  seed?: number;
  logger?: Logger;
}

const DEFAULT_BEHAVIOUR: MmscBehaviour = {
  username: undefined,
  password: undefined,
  latencyMs: 0,
  multipleRecipients: true,
  partialRate: 0,
  failureRate: 0,
  failureStatus: MM7_STATUS.ADDRESS_ERROR,
  serverErrorRate: 0,
  callbackUrl: undefined,
  callbackAuthorization: undefined,
  reportDelayMs: 50,
  retrievedRate: 1,
  failedReportStatus: 'Rejected',
};

// A failed report post is tried again this many times, a second apart.
const REPORT_ATTEMPTS = 3;
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * An MMSC's MM7 side on node:http, for the tests, the demo and the bench: reads each SubmitReq
 * (multipart/related: envelope, SMIL, media) with the same codec the adapter writes with, answers
 * by the configured rates, and posts a DeliveryReportReq per accepted recipient to `callbackUrl`.
 */
export class MmscSimulator {
  private readonly settings: SimulatorBehaviour<MmscBehaviour>;
  private readonly host: string;
  private readonly port: number;
  private readonly trackNumbers: boolean;
  private readonly logger: Logger | undefined;
  private readonly draws: SeededDraws;
  private server: http.Server | null = null;
  private readonly tasks = new DelayedTasks();
  private readonly reportAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private nextMessageId = 0;
  private readonly idPrefix = Date.now().toString(36).toUpperCase();
  private received = new Map<string, ReceivedMms[]>();
  private counts = { requests: 0, recipients: 0, acceptedRecipients: 0, reportsSent: 0, reportsAnswered: 0, reportsFailed: 0 };

  constructor(options: MmscSimulatorOptions = {}) {
    const { host, port, trackNumbers, seed, logger, ...behaviour } = options;
    // Undefined means "accept any" or "send none", so setting one to undefined is a change too.
    this.settings = new SimulatorBehaviour(DEFAULT_BEHAVIOUR, behaviour, ['username', 'password', 'callbackUrl', 'callbackAuthorization']);
    this.host = host ?? '127.0.0.1';
    this.port = port ?? 0;
    this.trackNumbers = trackNumbers ?? true;
    this.logger = logger;
    this.draws = new SeededDraws(seed);
  }

  private get behaviour(): Readonly<MmscBehaviour> {
    return this.settings.current;
  }

  async start(): Promise<{ port: number; url: string }> {
    if (this.server) throw new Error('the MMSC simulator is already started');
    const server = http.createServer((request, response) => this.onRequest(request, response));
    server.keepAliveTimeout = 30_000;
    this.server = server;
    const port = await listenOn(server, this.port, this.host);
    this.logger?.info({ host: this.host, port }, 'mmsc simulator listening');
    return { port, url: `http://${this.host}:${port}/mm7` };
  }

  configure(change: Partial<MmscBehaviour>): void {
    this.settings.configure(change);
  }

  /** Recipients accepted for the number (one per SubmitReq that named it and was taken). */
  submitsFor(msisdn: string): number {
    return this.received.get(msisdn)?.length ?? 0;
  }

  /** The MMS accepted for the number, as the MMSC read them. */
  messagesFor(msisdn: string): ReceivedMms[] {
    return this.received.get(msisdn) ?? [];
  }

  /** SubmitReq received, recipients in them, recipients accepted, and delivery reports sent / answered 1000 / failed. */
  get stats(): Readonly<typeof this.counts> {
    return { ...this.counts };
  }

  /** Forgets counts and pending reports and goes back to the behaviour it was created with. */
  reset(): void {
    this.tasks.cancelAll();
    this.received = new Map();
    this.counts = { requests: 0, recipients: 0, acceptedRecipients: 0, reportsSent: 0, reportsAnswered: 0, reportsFailed: 0 };
    this.settings.reset();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.tasks.cancelAll();
    this.reportAgent.destroy();
    server.closeAllConnections();
    await closeServer(server);
  }

  private onRequest(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        response.writeHead(413).end();
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (response.headersSent) return;
      this.onSubmit(request, Buffer.concat(chunks), response);
    });
  }

  private onSubmit(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): void {
    const { username, password } = this.behaviour;
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    if (username !== undefined || password !== undefined) {
      const expected = `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`;
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="mm7"' }).end();
        return;
      }
    }
    let parsed: ReturnType<typeof parseSubmitRequest>;
    try {
      parsed = parseSubmitRequest(request.headers['content-type'], body);
    } catch (error) {
      this.logger?.debug({ err: error }, 'mmsc simulator: unreadable SubmitReq');
      this.answer(response, 500, buildFault({ from: 'RS', transactionId: null, statusCode: 2007, statusText: 'Message format corrupt' }));
      return;
    }
    const { req, mms } = parsed;
    this.counts.requests += 1;
    this.counts.recipients += req.recipients.length;
    const b = this.behaviour;
    const reply = (status: number, envelope: string) => this.tasks.later(b.latencyMs, () => this.answer(response, status, envelope));
    if (!b.multipleRecipients && req.recipients.length > 1) {
      reply(500, buildFault({ from: 'RS', transactionId: req.transactionId, statusCode: MM7_STATUS.MULTIPLE_ADDRESSES_NOT_SUPPORTED, statusText: 'Multiple addresses not supported' }));
      return;
    }
    if (this.draws.happens(b.serverErrorRate)) {
      reply(500, buildFault({ from: 'RS', transactionId: req.transactionId, statusCode: MM7_STATUS.SERVER_ERROR, statusText: 'Server Error' }));
      return;
    }
    if (this.draws.happens(b.failureRate)) {
      reply(500, buildFault({ from: 'RS', transactionId: req.transactionId, statusCode: b.failureStatus, statusText: 'Refused by the simulator' }));
      return;
    }
    const partial = req.recipients.length > 1 && this.draws.happens(b.partialRate);
    const failed = partial ? req.recipients.slice(-1) : [];
    const accepted = partial ? req.recipients.slice(0, -1) : req.recipients;
    const messageId = `${this.idPrefix}${(this.nextMessageId++).toString(36).toUpperCase()}`;
    this.counts.acceptedRecipients += accepted.length;
    if (this.trackNumbers) {
      for (const number of accepted) {
        const list = this.received.get(number) ?? [];
        list.push(mms);
        this.received.set(number, list);
      }
    }
    const statusCode = partial ? MM7_STATUS.PARTIAL_SUCCESS : MM7_STATUS.SUCCESS;
    reply(200, buildSubmitRsp({ transactionId: req.transactionId, statusCode, statusText: partial ? 'Partial success' : 'Success', messageId, failedRecipients: failed }));
    if (!req.deliveryReport || b.reportDelayMs < 0 || !b.callbackUrl) return;
    for (const recipient of accepted) {
      this.tasks.later(b.latencyMs + b.reportDelayMs, () => void this.sendReport(messageId, recipient, req.senderAddress, 1));
    }
  }

  private async sendReport(messageId: string, recipient: string, sender: string, attempt: number): Promise<void> {
    const { callbackUrl, callbackAuthorization, retrievedRate, failedReportStatus } = this.behaviour;
    if (!callbackUrl || !this.server) return;
    const mmStatus: MmStatus = this.draws.next() < retrievedRate ? 'Retrieved' : failedReportStatus;
    const envelope = buildDeliveryReportReq({
      transactionId: `report-${messageId}-${recipient}-${attempt}`,
      relayServerId: 'quanke-mmsc-simulator',
      messageId,
      recipient,
      sender,
      date: new Date(),
      mmStatus,
      statusText: mmStatus,
    });
    if (attempt === 1) this.counts.reportsSent += 1;
    try {
      const answer = await postXml(callbackUrl, envelope, callbackAuthorization, this.reportAgent);
      if (answer.status === 200 && parseDeliveryReportRsp(answer.body).statusCode === MM7_STATUS.SUCCESS) {
        this.counts.reportsAnswered += 1;
        return;
      }
      throw new Error(`HTTP ${answer.status}`);
    } catch (error) {
      if (!this.server) return;
      if (attempt >= REPORT_ATTEMPTS) {
        this.counts.reportsFailed += 1;
        this.logger?.warn({ err: error }, 'mmsc simulator: delivery report not taken');
        return;
      }
      this.tasks.later(1_000, () => void this.sendReport(messageId, recipient, sender, attempt + 1));
    }
  }

  private answer(response: http.ServerResponse, status: number, envelope: string): void {
    if (response.destroyed) return;
    response.writeHead(status, { 'Content-Type': 'text/xml; charset=utf-8' }).end(envelope);
  }

}

function postXml(url: string, body: string, authorization: string | undefined, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: '""', ...(authorization ? { Authorization: authorization } : {}) },
      timeout: 10_000,
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.end(body);
  });
}
