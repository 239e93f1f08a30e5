import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadCatalog, type Catalog } from './catalog/catalog.js';
import type { Config } from './config.js';
import { createDb, ensureDatabase, type Db } from './db/kysely.js';
import { migrateToLatest } from './db/migrate.js';
import { Warehouse } from './warehouse/duckdb.js';
import { ensureWarehouseSchema } from './warehouse/schema.js';
import { ensureDerivedTables } from './warehouse/derive.js';
import { ImportService } from './warehouse/import.service.js';
import { ConditionService } from './conditions/condition.service.js';
import { SegmentEngine } from './segments/segment.engine.js';
import { BitmapIndex } from './segments/bitmaps/bitmap.index.js';
import { BitmapSegmentEngine } from './segments/bitmaps/bitmap.engine.js';
import { BitmapWarmer } from './segments/bitmaps/bitmap.warmer.js';
import { DEFAULT_BREAKDOWN, SegmentService, segmentStatusSource } from './segments/segment.service.js';
import { segmentsReferencingRule } from './segments/segment.repository.js';
import { RuleService, ruleConditionSource } from './rules/rule.service.js';
import { KeyService } from './security/key.service.js';
import { createMetrics, observeQueueDepth, observeSendBacklog, observeWarehouse, type Metrics } from './ops/metrics.js';
import { oldestSendingSince } from './campaigns/campaign.repository.js';
import { recoverAfterRestart } from './ops/recovery.js';
import { JobQueues } from './jobs/queues.js';
import { JobSchedules } from './jobs/schedules.js';
import { ListService } from './lists/list.service.js';
import { WarehousePhoneNumberReader, type PhoneNumberFileReader } from './lists/list.upload.js';
import { ListMirror } from './lists/list.mirror.js';
import { ContactHistoryMirror } from './exclusions/contact-history.mirror.js';
import { MirrorCoordinator, type WarehouseMirror } from './exclusions/mirror.js';
import { PolicyService } from './exclusions/policy.service.js';
import { TargetingEngine } from './exclusions/targeting.engine.js';
import { TargetingService } from './exclusions/targeting.service.js';
import { AppError } from './http/errors.js';
import { FeedbackSink } from './gateways/feedback.sink.js';
import { GatewayRegistry } from './gateways/gateway.registry.js';
import { CampaignService } from './campaigns/campaign.service.js';
import { CampaignProfiles } from './campaigns/campaign.profiles.js';
import { LedgerFreezer } from './sending/ledger.freeze.js';
import { SendDispatch } from './sending/send.dispatch.js';
import { FeedbackMirror, ensureFeedbackTables } from './feedback/feedback.mirror.js';
import { ConversionService } from './feedback/conversion.service.js';
import { WarehouseConversionFileReader } from './feedback/conversion.upload.js';
import { ReportEngine } from './reports/report.engine.js';
import { ReportService } from './reports/report.service.js';
import { createFeedbackProcessors } from './feedback/feedback.loop.js';
import { FeedbackService } from './feedback/feedback.service.js';

/**
 * What every process has: Postgres, Redis and the services that need nothing else. The CLI's
 * key, list, policy, rule and campaign commands and the worker process run on this alone, so they
 * work while the API (the one owner of the DuckDB file) is serving.
 */
export interface CoreContainer {
  config: Config;
  logger: Logger;
  db: Db;
  redis: Redis;
  catalog: Catalog;
  conditions: ConditionService;
  /** The saved-rule library. */
  rules: RuleService;
  keys: KeyService;
  metrics: Metrics;
  /** BullMQ queues under config.QUEUE_PREFIX; add jobs with `queues.enqueue(name, payload)`. */
  queues: JobQueues;
  /** The service's own repeatable jobs; the API process keeps them (src/jobs/embedded.ts). */
  schedules: JobSchedules;
  lists: ListService;
  policies: PolicyService;
  /**
   * 营销案 as far as Postgres serves: reading, pausing, resuming, cancelling. Targeting, render,
   * test sends and launch read the warehouse and are refused here (the API's container has them).
   */
  campaigns: CampaignService;
  /** This process's gateway adapters, built from the `gateways` rows; receipts and MO go to the feedback sink. */
  gateways: GatewayRegistry;
  /** 活动执行反馈: receipts and replies posted over HTTP, dead letters, backlog. */
  feedback: FeedbackService;
  close(): Promise<void>;
}

/**
 * The API process's container: the core plus the warehouse (DuckDB) and what reads it. Only one
 * process may hold the DuckDB file, so only `server.ts`, the tests and a CLI warehouse command
 * that found no API running build this.
 */
export interface Container extends CoreContainer {
  warehouse: Warehouse;
  imports: ImportService;
  segments: SegmentService;
  /**
   * Customer bitmaps and the engine that answers previews with them; the segment service uses it
   * when SEGMENT_ENGINE=bitmap (the bench drives it either way).
   */
  bitmaps: { index: BitmapIndex; engine: BitmapSegmentEngine; warmer: BitmapWarmer };
  /** Brings DuckDB's copies of the lists and contact history up to date; call before reading them. */
  mirror: WarehouseMirror;
  targeting: TargetingService;
  /** 营销案 with targeting, render and launch (they read the warehouse). */
  campaigns: CampaignService;
  /** Orders from CRM/BOSS (uploads are checked by the warehouse's CSV reader). */
  conversions: ConversionService;
  /** Effectiveness, send and grid reports, aggregated in DuckDB. */
  reports: ReportService;
}

/** What a process without the warehouse answers when asked for what only the API process can do. */
function needsWarehouse(what: string): never {
  throw new AppError('NOT_READY', `${what} reads the warehouse; ask the API (npm start), which owns it`);
}

/** List uploads parse files with DuckDB; a process without the warehouse refuses them plainly. */
const noWarehouseFiles: PhoneNumberFileReader = {
  read: async () => {
    throw new AppError('NOT_READY', 'List uploads are parsed by the warehouse; send them to the API (POST /v1/lists/:type/upload)');
  },
};

function createListService(config: Config, db: Db, files: PhoneNumberFileReader): ListService {
  return new ListService({ db, msisdnPattern: config.MSISDN_PATTERN, files });
}

/** Postgres (created and migrated if needed), Redis and the services over them; never opens DuckDB. */
export async function createCoreContainer(config: Config, logger: Logger): Promise<CoreContainer> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  await migrateToLatest(db);
  const catalog = loadCatalog(config.CATALOG_EXTENSION);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
  await redis.connect();
  const keys = new KeyService(db);
  const queues = new JobQueues(redis, config.QUEUE_PREFIX);
  const schedules = new JobSchedules({ queues, redis, logger });
  const metrics = createMetrics();
  const lists = createListService(config, db, noWarehouseFiles);
  const conditions = new ConditionService({
    catalog,
    config,
    rules: ruleConditionSource(db),
    segments: segmentStatusSource(db),
    lists,
  });
  const policies = new PolicyService({ db, conditions, lists });
  const rules = new RuleService({ db, conditions, usage: { segmentsUsingRule: (name) => segmentsReferencingRule(db, name) }, logger });
  const feedback = new FeedbackSink({ db, logger });
  const gateways = new GatewayRegistry({ db, logger, sink: feedback });
  const campaigns = new CampaignService({
    db,
    catalog,
    config,
    segments: { get: async () => needsWarehouse('A segment') },
    policies,
    targeting: {
      run: async () => needsWarehouse('Targeting'),
      get: async () => needsWarehouse('The funnel'),
      explain: async () => needsWarehouse('Explain'),
    },
    freezer: { freeze: async () => needsWarehouse('Launch') },
    dispatch: new SendDispatch({ db, queues }),
    profiles: { sample: async () => needsWarehouse('Rendering') },
    gateways,
  });
  const feedbackService = new FeedbackService({ db, config, processors: createFeedbackProcessors({ db, lists, config, logger }) });
  observeQueueDepth(metrics, () => queues.all(), logger);
  observeSendBacklog(metrics, () => oldestSendingSince(db), logger);
  return {
    config,
    logger,
    db,
    redis,
    catalog,
    conditions,
    rules,
    keys,
    metrics,
    queues,
    schedules,
    lists,
    policies,
    gateways,
    campaigns,
    feedback: feedbackService,
    async close() {
      schedules.stop();
      await queues.close();
      // Adapters first: a closing bind may still hand over receipts, which the sink then writes.
      await gateways.close();
      await feedback.close().catch(() => undefined); // what it could not write, it has logged
      await db.destroy();
      redis.disconnect();
    },
  };
}

/** The core plus the warehouse: opens the DuckDB file (this process becomes its only owner). */
export async function createContainer(config: Config, logger: Logger): Promise<Container> {
  const core = await createCoreContainer(config, logger);
  let warehouse: Warehouse;
  try {
    warehouse = await Warehouse.open({
      path: config.DUCKDB_PATH,
      memoryLimit: config.DUCKDB_MEMORY_LIMIT,
      threads: config.DUCKDB_THREADS,
      readConnections: config.DUCKDB_READ_CONNECTIONS,
      queryTimeoutMs: config.QUERY_TIMEOUT_MS,
    });
  } catch (error) {
    await core.close();
    throw error;
  }
  const { db, catalog, conditions, metrics, policies, rules } = core;
  await ensureWarehouseSchema(warehouse, catalog);
  await ensureDerivedTables(warehouse, catalog, config.USAGE_WINDOW_MONTHS);
  // Holding the DuckDB file proves no other process is building or importing: finish what a dead one left.
  await recoverAfterRestart({ db, warehouse, logger });
  const imports = new ImportService({ db, warehouse, catalog, config, logger });
  // Same service as the core's, but able to parse uploaded files (it has the warehouse).
  const lists = createListService(config, db, new WarehousePhoneNumberReader(warehouse, config.MSISDN_PATTERN));
  const listMirror = new ListMirror(db, warehouse);
  await ensureFeedbackTables(warehouse);
  const feedbackMirror = new FeedbackMirror({ db, warehouse, databaseUrl: config.DATABASE_URL, scratchDir: config.UPLOAD_DIR });
  const mirror = new MirrorCoordinator(listMirror, new ContactHistoryMirror(db, warehouse), feedbackMirror);
  imports.onDatasetChanged(async (dataset, connection) => {
    if (dataset === 'customers') await listMirror.resolveAllMembers(connection);
    if (dataset === 'customers') await feedbackMirror.resolveConversions(connection);
  });
  const segmentEngine = new SegmentEngine(warehouse);
  const bitmapIndex = new BitmapIndex(warehouse, config.BITMAP_CACHE_MB * 1024 ** 2, { catalog, windowMonths: config.USAGE_WINDOW_MONTHS });
  const bitmapEngine = new BitmapSegmentEngine(bitmapIndex, segmentEngine);
  const bitmapWarmer = new BitmapWarmer({
    index: bitmapIndex,
    engine: bitmapEngine,
    prepare: (condition) => conditions.prepare(condition, 'condition', { role: 'admin' }),
    breakdown: DEFAULT_BREAKDOWN,
    logger,
  });
  const bitmaps = { index: bitmapIndex, engine: bitmapEngine, warmer: bitmapWarmer };
  const segments = new SegmentService({
    db,
    engine: segmentEngine,
    catalog,
    conditions,
    mirror,
    msisdnPattern: config.MSISDN_PATTERN,
    previews: config.SEGMENT_ENGINE === 'bitmap' ? bitmaps.engine : undefined,
  });
  const targeting = new TargetingService({
    db,
    engine: new TargetingEngine(warehouse),
    policies,
    conditions,
    segments,
    mirror,
    msisdnPattern: config.MSISDN_PATTERN,
    bitmaps: config.SEGMENT_ENGINE === 'bitmap' ? bitmaps : undefined,
  });
  const campaigns = new CampaignService({
    db,
    catalog,
    config,
    segments,
    policies,
    targeting,
    freezer: new LedgerFreezer({ warehouse, databaseUrl: config.DATABASE_URL, scratchDir: config.UPLOAD_DIR }),
    dispatch: new SendDispatch({ db, queues: core.queues }),
    profiles: new CampaignProfiles(warehouse),
    gateways: core.gateways,
  });
  const conversions = new ConversionService({
    db,
    databaseUrl: config.DATABASE_URL,
    files: new WarehouseConversionFileReader({ warehouse, msisdnPattern: config.MSISDN_PATTERN, timeZone: config.SEND_TIMEZONE, scratchDir: config.UPLOAD_DIR }),
  });
  const reports = new ReportService({
    engine: new ReportEngine(warehouse),
    catalog,
    campaigns,
    syncFeedback: () => mirror.sync({ feedback: true }),
    settings: { attributionDays: config.ATTRIBUTION_DAYS, messageCost: config.MESSAGE_COST, timeZone: config.SEND_TIMEZONE },
  });
  segments.addDependants({ kind: 'rule', find: (segmentId) => rules.rulesUsingSegment(segmentId) });
  await rules.seedFromDirectory(config.RULES_DIR);
  observeWarehouse(metrics, warehouse);
  if (config.SEGMENT_ENGINE === 'bitmap') bitmapWarmer.start(config.BITMAP_WARM_INTERVAL_MS);

  return {
    ...core,
    lists,
    warehouse,
    imports,
    segments,
    bitmaps,
    mirror,
    targeting,
    campaigns,
    conversions,
    reports,
    async close() {
      await bitmapWarmer.stop();
      await warehouse.close();
      await core.close();
    },
  };
}
