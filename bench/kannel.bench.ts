import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { KannelGateway } from '../src/gateways/kannel/kannel.gateway.js';
import { kannelInstalled, startKannel, type RunningKannel } from '../test/helpers/kannel.js';
import { campaignMessages, cpuMicrosPerMessage, startSimulatorProcess, submitAll, type SimulatorProcess } from './gateway-load.js';
import type { BenchCase, BenchSuite } from './harness.js';

/**
 * Messages per second through the Kannel adapter → the real Kannel (bearerbox + smsbox, Debian
 * package `kannel`) → its SMPP client → the SMSC simulator (bench/smsc.process.ts, its own process),
 * all on loopback, for the same 100k messages as bench/gateways.bench.ts (one personalised Chinese
 * text each, one part). The clock stops when the simulator has accepted every submit_sm (smsbox's
 * 202 only means bearerbox queued it), so the figure is the whole path to the SMSC. DLRs are on
 * (dlr-mask 31: Kannel calls back twice per message, 8 then 1) and go to a bare HTTP server that
 * counts them, so Kannel pays for them as it would in production; the API's own DLR route is not
 * in the figure. Submitted as a send worker does (`submitAll`).
 *
 * Environment: KANNEL_BENCH_MESSAGES (default 100000), KANNEL_BENCH_CONCURRENT_REQUESTS (the
 * adapter's maxConcurrent, default 64).
 */

const MESSAGES = Number(process.env.KANNEL_BENCH_MESSAGES ?? 100_000);
const REQUESTS = Number(process.env.KANNEL_BENCH_CONCURRENT_REQUESTS ?? 64);
const logger = pino({ level: 'warn' });

interface SmscCounts {
  submits: number;
  accepted: number;
  bound: number;
}

const messages = campaignMessages(MESSAGES);

/** A DLR receiver that only counts, by Kannel's type. */
async function startDlrCounter(): Promise<{ base: string; counts: Map<string, number>; close(): Promise<void> }> {
  const counts = new Map<string, number>();
  const server = http.createServer((request, response) => {
    const type = new URL(request.url ?? '/', 'http://x').searchParams.get('type') ?? '?';
    counts.set(type, (counts.get(type) ?? 0) + 1);
    response.end('{"status":"recorded"}');
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let simulator: SimulatorProcess<{ port: number }, SmscCounts> | null = null;
let kannel: RunningKannel | null = null;
let dlrs: Awaited<ReturnType<typeof startDlrCounter>> | null = null;
let gateway: KannelGateway | null = null;

const OPERATION = `Kannel (sendsms → bearerbox → SMPP) → SMSC simulator (${REQUESTS} requests open)`;

const kannelCase: BenchCase = {
  operation: OPERATION,
  size: MESSAGES,
  rows: MESSAGES,
  baseline: 'SMPP 3.4 → SMSC simulator (window 64)',
  // One run: 100k messages through two C daemons take long enough to be their own warm-up.
  runs: 1,
  async prepare() {
    if (gateway) return;
    if (!kannelInstalled()) throw new Error('bearerbox/smsbox are not installed (apt-get install kannel)');
    simulator = await startSimulatorProcess('smsc.process.ts');
    dlrs = await startDlrCounter();
    kannel = await startKannel({
      smsc: { port: simulator.hello.port, systemId: 'quanke', password: 'bench' },
      sendsms: { username: 'quanke', password: 'bench-pw' },
      logLevel: 2,
    });
    await until('Kannel binds to the simulator', async () => (await simulator!.counts()).bound > 0, 15_000);
    gateway = new KannelGateway({
      name: 'kannel',
      config: {
        sendsmsUrl: kannel.sendsmsUrl,
        username: 'quanke',
        password: 'bench-pw',
        from: '1069000',
        dlrUrlBase: dlrs.base,
        maxConcurrent: REQUESTS,
        timeoutMs: 30_000,
      },
      logger,
    });
  },
  async run(ctx) {
    const before = (await simulator!.counts()).accepted;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const accepted = await submitAll(gateway!, messages);
    const queuedMs = performance.now() - started;
    const cpuPerMessage = cpuMicrosPerMessage(cpu, accepted);
    await until('the SMSC simulator accepts every message', async () => (await simulator!.counts()).accepted - before >= accepted, 600_000);
    const smscMs = performance.now() - started;
    ctx.log(
      `${OPERATION}: smsbox answered all ${accepted} in ${(queuedMs / 1000).toFixed(1)} s (${Math.round(accepted / (queuedMs / 1000))}/s), ` +
        `the SMSC had them all after ${(smscMs / 1000).toFixed(1)} s; adapter process CPU ${cpuPerMessage} µs/message`,
    );
    return accepted;
  },
};

export const bench: BenchSuite = {
  name: 'gateways-kannel',
  cases: [kannelCase],
  async teardown(ctx) {
    if (dlrs) {
      // The DLRs trail the submits: how far they got, outside the timed run.
      const delivered = () => dlrs!.counts.get('1') ?? 0;
      await until('DLRs', async () => delivered() >= MESSAGES, 60_000).catch(() => undefined);
      ctx.log(`${OPERATION}: DLR callbacks by type ${JSON.stringify(Object.fromEntries(dlrs.counts))}`);
    }
    await gateway?.close();
    gateway = null;
    await kannel?.stop();
    kannel = null;
    await dlrs?.close();
    dlrs = null;
    await simulator?.stop();
    simulator = null;
  },
};
