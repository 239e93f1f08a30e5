import { SmscSimulator } from '../src/gateways/simulator/smsc.simulator.js';
import { serveSimulatorProcess } from './gateway-load.js';

/**
 * The SMSC simulator in a process of its own for `bench/send.bench.ts`, `bench/gateways.bench.ts`
 * and `bench/kannel.bench.ts` (see `startSimulatorProcess`): it sends `{ port }` once listening,
 * answers `'count'` with its counters and exits on `'stop'`. SMSC_RECEIPT_DELAY_MS (default 50;
 * negative: no receipts).
 */
const simulator = new SmscSimulator({
  host: '127.0.0.1',
  port: 0,
  trackNumbers: false,
  receiptDelayMs: Number(process.env.SMSC_RECEIPT_DELAY_MS ?? 50),
});
serveSimulatorProcess(simulator, () => ({
  submits: simulator.totalSubmits,
  accepted: simulator.acceptedSubmits,
  bound: simulator.boundSessions,
  at: Date.now(),
}));
