import './require-supported-node.js';
import { buildApp } from './app.js';
import { loadConfig, ConfigError } from './config.js';
import { createContainer } from './container.js';
import { createLogger } from './logger.js';
import { SYSTEM_ACTOR } from './security/roles.js';
import { ensureBootstrapAdminKey } from './security/bootstrap.js';
import { startEmbeddedWorkers } from './jobs/embedded.js';
import { startGatewaySimulator } from './gateways/simulator/simulator.registration.js';
import { startSendWorkers } from './sending/send.workers.js';
import { exitOnSignals } from './ops/shutdown.js';
import { loadSampleWarehouse, warehouseIsEmpty } from './warehouse/sample.js';
import { CONSOLE_DIR, ensureConsoleBuilt } from './console/console.build.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const container = await createContainer(config, logger);
  if (config.LOAD_SAMPLE_DATA && (await warehouseIsEmpty(container.warehouse))) {
    logger.info('warehouse is empty: importing the sample data (LOAD_SAMPLE_DATA=false to skip)');
    await loadSampleWarehouse(container.imports, { ...SYSTEM_ACTOR, name: 'sample-loader' });
  }
  await ensureBootstrapAdminKey(container);
  // Before the send workers, so a campaign on the gateway `simulator` finds it listening.
  const simulator = await startGatewaySimulator({ db: container.db, config, logger });
  // The web console is served from its build; a fresh clone (or changed sources) builds it first.
  // Under tests only a missing build is made: test/e2e rebuilds a stale one itself, and a server
  // spawned by another test must not spend a minute bundling first.
  await ensureConsoleBuilt({
    whenStale: config.NODE_ENV !== 'test',
    onBuild: () => logger.info({ dir: CONSOLE_DIR }, 'building the web console'),
  });
  const app = await buildApp(container, { consoleDir: CONSOLE_DIR });
  const workers = await startEmbeddedWorkers(container);
  const senders = config.EMBEDDED_SEND_WORKERS ? await startSendWorkers(container) : undefined;

  exitOnSignals(logger, async () => {
    await app.close();
    await senders?.close();
    await workers.close();
    await container.close();
    await simulator?.close();
  });

  await app.listen({ host: config.HOST, port: config.PORT });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error);
  process.exit(1);
});
