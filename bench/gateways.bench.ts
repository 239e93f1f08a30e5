import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { CmppGateway } from '../src/gateways/cmpp/cmpp.gateway.js';
import type { Gateway, OutboundMessage } from '../src/gateways/gateway.js';
import { SmppGateway } from '../src/gateways/smpp/smpp.gateway.js';
import type { BenchCase, BenchSuite } from './harness.js';

/**
 * Messages per second through each gateway adapter to its simulator on loopback, for the same
 * 100k messages (one personalised Chinese marketing text each, one part): SMPP to the SMSC
 * simulator, CMPP 2.0 and 3.0 to the ISMG simulator. Each simulator runs in its own process
 * (bench/smsc.process.ts, bench/ismg.process.ts), status reports on, and the adapter is connected
 * before the clock starts. Submitted as a send worker does: batches of BATCH, CONCURRENT batches at
 * a time. Same window for every adapter, so that the protocols are compared and not their defaults;
 * CMPP at its default window (16, the usual licence) is a row of its own.
 *
 * Environment: GATEWAY_BENCH_MESSAGES (default 100000), GATEWAY_BENCH_WINDOW (default 64).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.GATEWAY_BENCH_MESSAGES ?? 100_000);
const WINDOW = Number(process.env.GATEWAY_BENCH_WINDOW ?? 64);
const BATCH = 500;
const CONCURRENT = 4;
const logger = pino({ level: 'warn' });

interface SimulatorProcess {
  port: number;
  stop(): Promise<void>;
}

async function startSimulator(file: 'smsc.process.ts' | 'ismg.process.ts'): Promise<SimulatorProcess> {
  const child: ChildProcess = fork(path.join(REPO, 'bench', file), [], {
    execArgv: ['--import', 'tsx'],
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the simulator process ${file} exited with ${code}`)));
  });
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** The same campaign for every adapter: signature + personalised text + opt-out suffix, 48 characters. */
const messages: OutboundMessage[] = Array.from({ length: MESSAGES }, (_, n) => ({
  ref: `r${n}`,
  msisdn: `139${String(n).padStart(8, '0')}`,
  text: `【中国移动】尊敬的客户，您本月流量已用${(n % 9_000) + 100}MB，5G套餐限时优惠，回T退订`,
}));

async function waitConnected(gateway: Gateway): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (gateway.status().status !== 'connected') {
    if (Date.now() > deadline) throw new Error(`${gateway.name} did not connect: ${gateway.status().lastError ?? 'no error'}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Submits every message, CONCURRENT batches at a time; throws unless every one was accepted. */
async function sendAll(gateway: Gateway): Promise<number> {
  let next = 0;
  let accepted = 0;
  const lane = async (): Promise<void> => {
    while (next < messages.length) {
      const batch = messages.slice(next, next + BATCH);
      next += BATCH;
      for (const outcome of await gateway.submit(batch)) {
        if (outcome.kind !== 'accepted') throw new Error(`${gateway.name}: ${outcome.kind} ${outcome.code}: ${outcome.message}`);
        accepted += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, lane));
  return accepted;
}

type Open = (port: number) => Gateway;

const simulators = new Map<string, SimulatorProcess>();
let open: Gateway | null = null;

async function closeOpen(): Promise<void> {
  await open?.close();
  open = null;
}

function gatewayCase(operation: string, simulator: 'smsc.process.ts' | 'ismg.process.ts', build: Open, baseline?: string): BenchCase {
  let gateway: Gateway | null = null;
  return {
    operation,
    size: MESSAGES,
    rows: MESSAGES,
    ...(baseline === undefined ? {} : { baseline }),
    async prepare() {
      if (gateway && gateway === open) return;
      await closeOpen();
      let sim = simulators.get(simulator);
      if (!sim) {
        sim = await startSimulator(simulator);
        simulators.set(simulator, sim);
      }
      gateway = build(sim.port);
      open = gateway;
      await waitConnected(gateway);
    },
    async run(ctx) {
      // CPU of this process (the adapter's side) per message: steadier than wall time on a busy machine.
      const cpu = process.cpuUsage();
      const accepted = await sendAll(gateway!);
      const { user, system } = process.cpuUsage(cpu);
      ctx.log(`${operation}: adapter process CPU ${((user + system) / accepted).toFixed(1)} µs/message`);
      return accepted;
    },
  };
}

const cmpp = (version: 2 | 3, maxOutstanding: number): Open => (port) =>
  new CmppGateway({
    name: `cmpp${version}`,
    config: { host: '127.0.0.1', port, sourceAddr: '901234', sharedSecret: 'bench-secret', srcId: '1069000', version, maxOutstanding },
    logger,
  });

const SMPP = `SMPP 3.4 → SMSC simulator (window ${WINDOW})`;

export const bench: BenchSuite = {
  name: 'gateways',
  cases: [
    gatewayCase(SMPP, 'smsc.process.ts', (port) =>
      new SmppGateway({
        name: 'smpp',
        config: { host: '127.0.0.1', port, systemId: 'quanke', password: '', sourceAddr: '1069000', maxOutstanding: WINDOW },
        logger,
      }),
    ),
    gatewayCase(`CMPP 2.0 → ISMG simulator (window ${WINDOW})`, 'ismg.process.ts', cmpp(2, WINDOW), SMPP),
    gatewayCase(`CMPP 3.0 → ISMG simulator (window ${WINDOW})`, 'ismg.process.ts', cmpp(3, WINDOW), SMPP),
    gatewayCase('CMPP 3.0 → ISMG simulator (window 16, the default)', 'ismg.process.ts', cmpp(3, 16), SMPP),
  ],
  async teardown() {
    await closeOpen();
    for (const sim of simulators.values()) await sim.stop();
    simulators.clear();
  },
};
