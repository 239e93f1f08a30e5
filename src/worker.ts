import './require-supported-node.js';
import { loadConfig, ConfigError } from './config.js';
import { createCoreContainer } from './container.js';
import { createLogger } from './logger.js';
import { startSendWorkers } from './sending/send.workers.js';

/**
 * `npm run worker`: a send worker process. Postgres, Redis and the gateways only, never the DuckDB
 * file, so as many as needed run beside the API, on this host or any other that reaches Postgres,
 * Redis and the gateways.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const core = await createCoreContainer(config, logger);
  const senders = await startSendWorkers(core);
  logger.info({ pid: process.pid }, 'worker ready');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ signal }, 'shutdown did not finish within 9 s; exiting');
      process.exit(1);
    }, 9_000).unref();
    try {
      await senders.close();
      await core.close();
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
