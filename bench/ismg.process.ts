import { IsmgSimulator } from '../src/gateways/simulator/ismg.simulator.js';
import { serveSimulatorProcess } from './gateway-load.js';

/**
 * The ISMG simulator in a process of its own for `bench/gateways.bench.ts` (see
 * `startSimulatorProcess`): it sends `{ port }` once listening, answers `'count'` with its counters
 * and exits on `'stop'`. ISMG_RECEIPT_DELAY_MS (default 50; negative: no status reports).
 */
const simulator = new IsmgSimulator({
  host: '127.0.0.1',
  port: 0,
  trackNumbers: false,
  receiptDelayMs: Number(process.env.ISMG_RECEIPT_DELAY_MS ?? 50),
});
serveSimulatorProcess(simulator, () => ({
  submits: simulator.totalSubmits,
  accepted: simulator.acceptedSubmits,
  bound: simulator.connectedSessions,
  at: Date.now(),
}));
