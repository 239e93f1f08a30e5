import { MmscSimulator } from '../src/gateways/simulator/mmsc.simulator.js';
import { serveSimulatorProcess } from './gateway-load.js';

/**
 * The MMSC simulator in a process of its own for `bench/mm7.bench.ts` (see `startSimulatorProcess`):
 * it sends `{ port, url }` once listening, answers `'count'` with its counters and exits on `'stop'`.
 * MMSC_CALLBACK_URL: where delivery reports go (none when unset); MMSC_REPORT_DELAY_MS (default 50).
 */
const simulator = new MmscSimulator({
  host: '127.0.0.1',
  port: 0,
  trackNumbers: false,
  callbackUrl: process.env.MMSC_CALLBACK_URL || undefined,
  callbackAuthorization: process.env.MMSC_CALLBACK_AUTHORIZATION || undefined,
  reportDelayMs: Number(process.env.MMSC_REPORT_DELAY_MS ?? 50),
});
serveSimulatorProcess(simulator, () => simulator.stats);
