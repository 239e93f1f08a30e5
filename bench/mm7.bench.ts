import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { OutboundMessage, OutboundMms } from '../src/gateways/gateway.js';
import { Mm7Gateway } from '../src/gateways/mm7/mm7.gateway.js';
import type { MmscSimulator } from '../src/gateways/simulator/mmsc.simulator.js';
import { campaignText, cpuMicrosPerMessage, startSimulatorProcess, submitAll, type SimulatorProcess } from './gateway-load.js';
import type { BenchCase, BenchContext, BenchSuite } from './harness.js';

/**
 * Messages per second through the MM7 adapter to the MMSC simulator (bench/mmsc.process.ts, its
 * own process) on loopback, for the same 100k recipients as bench/gateways.bench.ts, each an MMS of
 * a 2 KB PNG and the personalised Chinese text of that bench. Every SubmitReq is a real
 * multipart/related (envelope, SMIL, image, text) that the simulator parses whole. Delivery reports
 * are on: the simulator posts one DeliveryReportReq per recipient to a bare HTTP server in this
 * process that answers DeliveryReportRsp 1000 (the API's route, sink and ledger are not in the
 * figure). Submitted as a send worker does (`submitAll`).
 *
 * Two cases: personalised texts (one recipient per SubmitReq, the usual marketing campaign) and one
 * text for all (up to RECIPIENTS_PER_REQUEST recipients per SubmitReq).
 *
 * Environment: MM7_BENCH_MESSAGES (default 100000), MM7_BENCH_CONCURRENT_REQUESTS (the adapter's
 * maxConcurrentRequests, default 64).
 */

const MESSAGES = Number(process.env.MM7_BENCH_MESSAGES ?? 100_000);
const REQUESTS = Number(process.env.MM7_BENCH_CONCURRENT_REQUESTS ?? 64);
const RECIPIENTS_PER_REQUEST = 20;
const TOKEN = 'bench-callback-token-0123456789';
const logger = pino({ level: 'warn' });

const IMAGE = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(2_040, 7)]);
const mms = (text: string): OutboundMms => ({ subject: '5G 套餐', parts: [{ type: 'image', contentType: 'image/png', content: IMAGE }, { type: 'text', text }] });
const SAME = mms(campaignText(0));

function messages(shared: boolean): OutboundMessage[] {
  return Array.from({ length: MESSAGES }, (_, n) => {
    const content = shared ? SAME : mms(campaignText(n));
    return { ref: `r${n}`, msisdn: `139${String(n).padStart(8, '0')}`, text: '', mms: content };
  });
}

/** The other end of the reports: answers every one 1000 through the adapter's own handler, counts them. */
class ReportSink {
  reports = 0;
  gateway: Mm7Gateway | null = null;
  private readonly server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const gateway = this.gateway;
      if (!gateway?.acceptsCallbackCredentials(request.headers.authorization)) {
        response.writeHead(401).end();
        return;
      }
      const answer = gateway.handleDeliveryReport(request.headers['content-type'], Buffer.concat(chunks));
      this.reports += 1;
      response.writeHead(answer.statusCode, { 'Content-Type': answer.contentType }).end(answer.body);
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/feedback/mm7?gateway=bench`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

type Mmsc = SimulatorProcess<{ url: string }, MmscSimulator['stats']>;

function startMmsc(callbackUrl: string): Promise<Mmsc> {
  return startSimulatorProcess('mmsc.process.ts', { MMSC_CALLBACK_URL: callbackUrl, MMSC_CALLBACK_AUTHORIZATION: `Bearer ${TOKEN}` });
}

let mmsc: Mmsc | null = null;
const sink = new ReportSink();

function mm7Case(operation: string, shared: boolean): BenchCase {
  let gateway: Mm7Gateway | null = null;
  let all: OutboundMessage[] = [];
  return {
    operation,
    size: MESSAGES,
    rows: MESSAGES,
    async prepare() {
      await gateway?.close();
      all = messages(shared);
      gateway = new Mm7Gateway({
        name: 'bench',
        config: {
          url: mmsc!.hello.url,
          vaspId: 'VASP01',
          vasId: 'VAS01',
          password: '',
          senderAddress: '10658000',
          callbackToken: TOKEN,
          maxConcurrentRequests: REQUESTS,
          recipientsPerRequest: RECIPIENTS_PER_REQUEST,
        },
        logger,
      });
      sink.gateway = gateway;
    },
    async run(ctx: BenchContext) {
      const cpu = process.cpuUsage();
      const before = await mmsc!.counts();
      const accepted = await submitAll(gateway!, all);
      const cpuPerMessage = cpuMicrosPerMessage(cpu, accepted);
      const after = await mmsc!.counts();
      ctx.log(
        `${operation}: ${after.requests - before.requests} SubmitReq for ${accepted} recipients; ` +
          `adapter process CPU ${cpuPerMessage} µs/message (reports answered in this process too)`,
      );
      return accepted;
    },
  };
}

export const bench: BenchSuite = {
  name: 'mm7',
  async setup() {
    mmsc = await startMmsc(await sink.start());
  },
  cases: [
    mm7Case(`MM7 → MMSC simulator, personalised (1 recipient per SubmitReq, ${REQUESTS} in flight)`, false),
    mm7Case(`MM7 → MMSC simulator, one text for all (≤${RECIPIENTS_PER_REQUEST} recipients per SubmitReq)`, true),
  ],
  async teardown(ctx) {
    const counts = await mmsc?.counts();
    if (counts) ctx.log(`mm7: MMSC saw ${counts.requests} SubmitReq, ${counts.acceptedRecipients} recipients; ${sink.reports} delivery reports answered`);
    await mmsc?.stop();
    await sink.stop();
  },
};
