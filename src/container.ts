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
import { SegmentService, segmentStatusSource } from './segments/segment.service.js';
import { RuleService, ruleConditionSource } from './rules/rule.service.js';
import { KeyService } from './security/key.service.js';
import { createMetrics, observeQueueDepth, observeWarehouse, type Metrics } from './ops/metrics.js';
import { JobQueues } from './jobs/queues.js';
import { ListService } from './lists/list.service.js';
import { WarehousePhoneNumberReader } from './lists/list.upload.js';
import { ListMirror } from './lists/list.mirror.js';
import { ContactHistoryMirror } from './exclusions/contact-history.mirror.js';
import { MirrorCoordinator, type WarehouseMirror } from './exclusions/mirror.js';
import { PolicyService } from './exclusions/policy.service.js';
import { TargetingEngine } from './exclusions/targeting.engine.js';
import { TargetingService } from './exclusions/targeting.service.js';

/**
 * The composition root: configuration, connections, engines and services, built once. `server.ts`,
 * `cli.ts` and the tests are thin entry points over it.
 */
export interface Container {
  config: Config;
  logger: Logger;
  db: Db;
  redis: Redis;
  warehouse: Warehouse;
  catalog: Catalog;
  imports: ImportService;
  conditions: ConditionService;
  /** The saved-rule library, seeded from config.RULES_DIR at start. */
  rules: RuleService;
  segments: SegmentService;
  keys: KeyService;
  metrics: Metrics;
  /** BullMQ queues under config.QUEUE_PREFIX; add jobs with `queues.enqueue(name, payload)`. */
  queues: JobQueues;
  lists: ListService;
  /** Brings DuckDB's copies of the lists and contact history up to date; call before reading them. */
  mirror: WarehouseMirror;
  policies: PolicyService;
  targeting: TargetingService;
  close(): Promise<void>;
}

export async function createContainer(config: Config, logger: Logger): Promise<Container> {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  await migrateToLatest(db);
  const catalog = loadCatalog(config.CATALOG_EXTENSION);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
  await redis.connect();
  const warehouse = await Warehouse.open({
    path: config.DUCKDB_PATH,
    memoryLimit: config.DUCKDB_MEMORY_LIMIT,
    threads: config.DUCKDB_THREADS,
    readConnections: config.DUCKDB_READ_CONNECTIONS,
    queryTimeoutMs: config.QUERY_TIMEOUT_MS,
  });
  await ensureWarehouseSchema(warehouse, catalog);
  await ensureDerivedTables(warehouse, catalog, config.USAGE_WINDOW_MONTHS);
  const imports = new ImportService({ db, warehouse, catalog, config, logger });
  const keys = new KeyService(db);
  const queues = new JobQueues(redis, config.QUEUE_PREFIX);
  const metrics = createMetrics();
  const lists = new ListService({ db, msisdnPattern: config.MSISDN_PATTERN, files: new WarehousePhoneNumberReader(warehouse, config.MSISDN_PATTERN) });
  const listMirror = new ListMirror(db, warehouse);
  const mirror = new MirrorCoordinator(listMirror, new ContactHistoryMirror(db, warehouse));
  imports.onDatasetChanged(async (dataset, connection) => {
    if (dataset === 'customers') await listMirror.resolveAllMembers(connection);
  });
  const conditions = new ConditionService({
    catalog,
    config,
    rules: ruleConditionSource(db),
    segments: segmentStatusSource(db),
    lists,
  });
  const segments = new SegmentService({
    db,
    engine: new SegmentEngine(warehouse),
    catalog,
    conditions,
    mirror,
    msisdnPattern: config.MSISDN_PATTERN,
  });
  const policies = new PolicyService({ db, conditions, lists });
  const targeting = new TargetingService({
    db,
    engine: new TargetingEngine(warehouse),
    policies,
    conditions,
    segments,
    mirror,
    msisdnPattern: config.MSISDN_PATTERN,
  });
  const rules = new RuleService({ db, conditions, usage: segments, logger });
  segments.addDependants({ kind: 'rule', find: (segmentId) => rules.rulesUsingSegment(segmentId) });
  await rules.seedFromDirectory(config.RULES_DIR);
  observeWarehouse(metrics, warehouse);
  observeQueueDepth(metrics, () => queues.all(), logger);

  return {
    config,
    logger,
    db,
    redis,
    warehouse,
    catalog,
    imports,
    conditions,
    rules,
    segments,
    keys,
    metrics,
    queues,
    lists,
    mirror,
    policies,
    targeting,
    async close() {
      await queues.close();
      await warehouse.close();
      await db.destroy();
      redis.disconnect();
    },
  };
}
