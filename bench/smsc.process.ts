import { SmscSimulator } from '../src/gateways/simulator/smsc.simulator.js';

/**
 * The SMSC simulator in a process of its own for `bench/send.bench.ts`, as a real SMSC is another
 * machine: the bench's workers then do not share an event loop with the other end of the PDUs.
 * Forked with an IPC channel: it sends `{ port }` once listening, answers `'count'` with its
 * counters and exits on `'stop'`. SMSC_RECEIPT_DELAY_MS (default 50; negative: no receipts).
 */
async function main(): Promise<void> {
  const simulator = new SmscSimulator({
    host: '127.0.0.1',
    port: 0,
    trackNumbers: false,
    receiptDelayMs: Number(process.env.SMSC_RECEIPT_DELAY_MS ?? 50),
  });
  const { port } = await simulator.start();
  process.on('message', (message) => {
    if (message === 'count') {
      process.send?.({ submits: simulator.totalSubmits, accepted: simulator.acceptedSubmits, bound: simulator.boundSessions, at: Date.now() });
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
