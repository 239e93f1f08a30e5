import './require-supported-node.js';
import path from 'node:path';
import { loadConfig, ConfigError } from './config.js';
import { createContainer, type Container } from './container.js';
import { createLogger } from './logger.js';
import type { Actor } from './security/roles.js';
import { loadSampleWarehouse } from './warehouse/sample.js';
import { startGatewaySimulator, SIMULATOR_GATEWAY } from './gateways/simulator/simulator.registration.js';
import { startSendWorkers } from './sending/send.workers.js';
import { createCampaignBody } from './campaigns/campaign.schemas.js';
import { campaignHeadline, funnelSummary, printFunnel } from './campaigns/campaign.print.js';
import { watchCampaign } from './campaigns/campaign.watch.js';
import { demoPlaces, startFromNothing } from './demo/fresh-start.js';
import { printReport } from './demo/report.js';
import { step } from './demo/steps.js';
import type { SmscSimulator } from './gateways/simulator/smsc.simulator.js';

/**
 * `npm run demo`: one campaign end to end on this machine, as the services run it in production —
 * the sample warehouse, a segment, the exclusion funnel, four-eyes approval, the launch freezing
 * the target into the ledger, send workers submitting through the SMSC simulator over real SMPP —
 * with its own database, warehouse file and queues, so it never touches what `npm start` serves.
 */

// Three people, so the four-eyes rule is met the way it is meant to be.
const OPERATOR: Actor = { name: 'demo:operator-wang', role: 'operator', ip: 'demo' };
const APPROVER: Actor = { name: 'demo:approver-li', role: 'operator', ip: 'demo' };
const SCHEDULER: Actor = { name: 'demo:scheduler-zhao', role: 'scheduler', ip: 'demo' };
const LOADER: Actor = { name: 'demo:loader', role: 'admin', ip: 'demo' };

const SEGMENT = {
  name: '广州 5G终端 在网用户',
  condition: {
    all: [
      { rule: 'active-customers' },
      { field: 'city', op: 'eq', value: '广州' },
      { field: 'is_5g_device', op: 'eq', value: true },
    ],
  },
};

// Slow enough for the bar to be watched (throttles count message parts), quick enough to wait for.
const DEMO_PARTS_PER_SECOND = 25;
// Recipients leave `queued` a chunk at a time; small chunks let the bar move smoothly.
const DEMO_BATCH_SIZE = 25;
const DEMO_CHUNK_SIZE = 5;


async function main(signal: AbortSignal): Promise<void> {
  const base = loadConfig();
  const places = demoPlaces(base, process.env);
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: places.databaseUrl,
    DUCKDB_PATH: places.duckdbPath,
    QUEUE_PREFIX: places.queuePrefix,
    UPLOAD_DIR: places.scratchDir,
    // Marketing may only be sent in legal hours; the demo must not sit waiting for 08:00.
    SEND_WINDOW: '00:00-24:00',
    CAMPAIGN_APPROVAL: 'on',
    GATEWAY_SIMULATOR: 'true',
    GATEWAY_SIMULATOR_PORT: '0',
    RECONCILE_INTERVAL_MS: '300',
    SEND_BATCH_SIZE: String(DEMO_BATCH_SIZE),
    SEND_CHUNK_SIZE: String(DEMO_CHUNK_SIZE),
  });
  const db = new URL(places.databaseUrl);
  console.log('Quanke demo: one campaign end to end on this machine, sent through the SMSC simulator');
  console.log(`  Postgres   ${db.host}/${places.databaseName} (recreated on every run; npm start's database is not touched)`);
  console.log(`  warehouse  ${path.relative(process.cwd(), places.duckdbPath) || places.duckdbPath} (its own DuckDB file); queues under ${places.queuePrefix}:`);
  console.log(`  SEND_WINDOW=00:00-24:00 for the demo, so it sends at any hour (the legal default is ${base.SEND_WINDOW} ${base.SEND_TIMEZONE})`);

  const closers: Array<() => Promise<unknown>> = [];
  try {
    await startFromNothing(places, config.REDIS_URL);
    const container = await createContainer(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
    closers.unshift(() => container.close());
    signal.throwIfAborted();

    step(1, 'warehouse: importing the sample (fixtures/sample)');
    const started = performance.now();
    const records = await loadSampleWarehouse(container.imports, LOADER);
    console.log(`  ${records.map((r) => `${r.dataset} ${r.rowsLoaded}`).join(', ')} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    signal.throwIfAborted();

    step(2, 'gateway and workers');
    const simulator = await startGatewaySimulator({ db: container.db, config, logger: container.logger });
    if (!simulator) throw new Error(`the gateway name ${SIMULATOR_GATEWAY} belongs to a real gateway in ${places.databaseName}`);
    closers.push(() => simulator.close()); // after the container, whose adapters are bound to it
    const senders = await startSendWorkers(container);
    closers.unshift(() => senders.close());
    console.log(`  SMSC simulator on 127.0.0.1:${simulator.port}, registered as the gateway "${SIMULATOR_GATEWAY}" (SMPP 3.4)`);
    console.log(`  send workers in this process: ${config.SEND_CONCURRENCY} jobs at once, ${config.SEND_BATCH_SIZE} recipients a job, claimed ${config.SEND_CHUNK_SIZE} at a time`);
    signal.throwIfAborted();

    await runCampaign(container, simulator.simulator, signal);
  } finally {
    for (const close of closers) await close().catch((error: unknown) => console.error('while closing:', error));
  }
}

async function runCampaign(container: Container, simulator: SmscSimulator, signal: AbortSignal): Promise<void> {
  const { campaigns, segments } = container;

  step(3, `segment "${SEGMENT.name}" by ${OPERATOR.name}`);
  console.log(`  ${JSON.stringify(SEGMENT.condition)}`);
  const segment = await segments.create(SEGMENT, OPERATOR);
  console.log(`  ${segment.count} customers`);
  signal.throwIfAborted();

  step(4, `campaign (营销案) created by ${OPERATOR.name}`);
  const created = await campaigns.create(
    createCampaignBody.parse({
      name: `5G升级 广州 ${new Date().toISOString().slice(0, 10)}`,
      category: '5g_upgrade',
      productId: 'P5G',
      class: 'marketing',
      segmentId: segment.id,
      message: {
        text: '尊敬的{name}，您的手机已支持5G，本月流量已用{data_mb}MB。升级5G套餐首月加赠10GB流量，回复1办理。',
        signature: '【中国移动】',
        optOutSuffix: '回T退订',
      },
      throttle: { perSecond: DEMO_PARTS_PER_SECOND },
      controlGroupPercent: 10,
      gateway: SIMULATOR_GATEWAY,
    }),
    OPERATOR,
  );
  console.log(`  ${campaignHeadline(created)}`);
  const [sample] = await campaigns.render(created.id, undefined);
  if (sample) console.log(`  customer ${sample.customerId} reads (${sample.encoding}, ${sample.chars} characters, ${sample.parts} part(s)): ${sample.text}`);
  signal.throwIfAborted();

  step(5, 'targeting: the segment through the default exclusion policy');
  const run = await campaigns.target(created.id, OPERATOR);
  printFunnel(run);
  signal.throwIfAborted();

  step(6, `approval (four-eyes: ${APPROVER.name} approves what ${OPERATOR.name} created)`);
  const approved = await campaigns.approve(created.id, 'demo: looks right', APPROVER);
  console.log(`  ${campaignHeadline(approved)}`);
  signal.throwIfAborted();

  step(7, `launch by ${SCHEDULER.name}: the target frozen into the message ledger, then sent at ${DEMO_PARTS_PER_SECOND} parts/s`);
  const launched = await campaigns.launch(created.id, undefined, SCHEDULER);
  console.log(`  ${launched.progress?.total} recipients queued, ${launched.progress?.control} held out as the control group`);
  const finished = await watchCampaign(() => campaigns.get(created.id), { intervalMs: 250, signal });
  signal.throwIfAborted();
  console.log(campaignHeadline(finished));
  if (finished.status !== 'completed') throw new Error(`the campaign stopped ${finished.status}, not completed`);

  console.log(`\nfunnel: ${funnelSummary(await campaigns.funnel(created.id))}`);
  await printReport({ container, campaign: finished, simulator, signal });
}

const interrupt = new AbortController();
// Ctrl-C stops at the next step (the watch at once) and still closes what the demo started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupt.abort(new Error(signal)));
main(interrupt.signal).then(
  () => process.exit(0),
  (error: unknown) => {
    if (interrupt.signal.aborted) {
      console.error('\ndemo interrupted; everything it started is closed');
      process.exit(130);
    }
    if (error instanceof ConfigError) console.error(error.message);
    else console.error(error);
    process.exit(1);
  },
);
