import type { Logger } from 'pino';

// A supervisor (systemd, Kubernetes) waits about 10 s after SIGTERM before it kills: finish
// within that, or leave on our own terms with a line that says so.
const DEADLINE_MS = 9_000;

/**
 * On SIGTERM or SIGINT, runs `close` once, logs "shutdown complete" (or why not) and exits:
 * 0 when everything closed, 1 when something failed or the deadline passed.
 */
export function exitOnSignals(logger: Logger, close: () => Promise<void>): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ signal }, `shutdown did not finish within ${DEADLINE_MS / 1000} s; exiting`);
      process.exit(1);
    }, DEADLINE_MS).unref();
    try {
      await close();
      logger.info({ signal }, 'shutdown complete');
      process.exitCode = 0;
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    } finally {
      clearTimeout(force);
    }
    process.exit();
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
