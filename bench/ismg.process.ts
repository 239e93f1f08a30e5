import { IsmgSimulator } from '../src/gateways/simulator/ismg.simulator.js';

/**
 * The ISMG simulator in a process of its own for `bench/gateways.bench.ts`, as a real ISMG is
 * another machine: the gateway under test then does not share an event loop with the other end.
 * Forked with an IPC channel, like bench/smsc.process.ts: it sends `{ port }` once listening,
 * answers `'count'` with its counters and exits on `'stop'`. ISMG_RECEIPT_DELAY_MS (default 50;
 * negative: no status reports).
 */
async function main(): Promise<void> {
  const simulator = new IsmgSimulator({
    host: '127.0.0.1',
    port: 0,
    trackNumbers: false,
    receiptDelayMs: Number(process.env.ISMG_RECEIPT_DELAY_MS ?? 50),
  });
  const { port } = await simulator.start();
  process.on('message', (message) => {
    if (message === 'count') {
      process.send?.({ submits: simulator.totalSubmits, accepted: simulator.acceptedSubmits, bound: simulator.connectedSessions, at: Date.now() });
    } else if (message === 'stop') {
      void simulator.stop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => void simulator.stop().finally(() => process.exit(0)));
  process.send?.({ port });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
