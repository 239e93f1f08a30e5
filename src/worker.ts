import './require-supported-node.js';
import { loadConfig, ConfigError } from './config.js';
import { createCoreContainer } from './container.js';
import { createLogger } from './logger.js';
import { startSendWorkers } from './sending/send.workers.js';
import { exitOnSignals } from './ops/shutdown.js';

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

  exitOnSignals(logger, async () => {
    await senders.close();
    await core.close();
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
