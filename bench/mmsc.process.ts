import { MmscSimulator } from '../src/gateways/simulator/mmsc.simulator.js';

/**
 * The MMSC simulator in a process of its own for `bench/mm7.bench.ts`, as a real MMSC is another
 * machine. Forked with an IPC channel: it sends `{ port, url }` once listening, answers `'count'`
 * with its counters and exits on `'stop'`. MMSC_CALLBACK_URL: where delivery reports go (none when
 * unset); MMSC_REPORT_DELAY_MS (default 50).
 */
async function main(): Promise<void> {
  const simulator = new MmscSimulator({
    host: '127.0.0.1',
    port: 0,
    trackNumbers: false,
    callbackUrl: process.env.MMSC_CALLBACK_URL || undefined,
    callbackAuthorization: process.env.MMSC_CALLBACK_AUTHORIZATION || undefined,
    reportDelayMs: Number(process.env.MMSC_REPORT_DELAY_MS ?? 50),
  });
  const started = await simulator.start();
  process.on('message', (message) => {
    if (message === 'count') process.send?.(simulator.stats);
    else if (message === 'stop') void simulator.stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => void simulator.stop().finally(() => process.exit(0)));
  process.send?.(started);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
