import pino from 'pino';
import { CmppGateway } from '../src/gateways/cmpp/cmpp.gateway.js';
import type { Gateway } from '../src/gateways/gateway.js';
import { SmppGateway } from '../src/gateways/smpp/smpp.gateway.js';
import { campaignMessages, cpuMicrosPerMessage, startSimulatorProcess, submitAll, type SimulatorProcess } from './gateway-load.js';
import type { BenchCase, BenchSuite } from './harness.js';

/**
 * Messages per second through each gateway adapter to its simulator on loopback, for the same
 * 100k messages (one personalised Chinese marketing text each, one part): SMPP to the SMSC
 * simulator, CMPP 2.0 and 3.0 to the ISMG simulator. Each simulator runs in its own process
 * (bench/smsc.process.ts, bench/ismg.process.ts), status reports on, and the adapter is connected
 * before the clock starts. Submitted as a send worker does (`submitAll`). Same window for every
 * adapter, so that the protocols are compared and not their defaults; CMPP at its default window
 * (16, the usual licence) is a row of its own.
 *
 * Environment: GATEWAY_BENCH_MESSAGES (default 100000), GATEWAY_BENCH_WINDOW (default 64).
 */

const MESSAGES = Number(process.env.GATEWAY_BENCH_MESSAGES ?? 100_000);
const WINDOW = Number(process.env.GATEWAY_BENCH_WINDOW ?? 64);
const logger = pino({ level: 'warn' });

const messages = campaignMessages(MESSAGES);

async function waitConnected(gateway: Gateway): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (gateway.status().status !== 'connected') {
    if (Date.now() > deadline) throw new Error(`${gateway.name} did not connect: ${gateway.status().lastError ?? 'no error'}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type Open = (port: number) => Gateway;

const simulators = new Map<string, SimulatorProcess<{ port: number }, unknown>>();
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
        sim = await startSimulatorProcess(simulator);
        simulators.set(simulator, sim);
      }
      gateway = build(sim.hello.port);
      open = gateway;
      await waitConnected(gateway);
    },
    async run(ctx) {
      const cpu = process.cpuUsage();
      const accepted = await submitAll(gateway!, messages);
      ctx.log(`${operation}: adapter process CPU ${cpuMicrosPerMessage(cpu, accepted)} µs/message`);
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
