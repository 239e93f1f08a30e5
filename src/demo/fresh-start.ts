import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Where the demo keeps its state, apart from `npm start`'s: its own Postgres database, DuckDB file,
 * queue prefix and scratch folder. The demo starts them from nothing on every run: the default
 * exclusion policy removes whoever was messaged in the last 7 days and the frequency cap allows one
 * marketing message a day, so a second run on kept state would find no one left to send to.
 */
export interface DemoPlaces {
  databaseUrl: string;
  /** `quanke_demo`: the only kind of name the demo drops. */
  databaseName: string;
  duckdbPath: string;
  queuePrefix: string;
  scratchDir: string;
}

const DEMO_DATABASE_SUFFIX = '_demo';

/**
 * `DEMO_DATABASE_URL`, else DATABASE_URL's server with the database name plus `_demo`;
 * `DEMO_DUCKDB_PATH`, else `data/demo.duckdb`; queues under QUEUE_PREFIX plus `-demo`.
 */
export function demoPlaces(config: { DATABASE_URL: string; QUEUE_PREFIX: string }, env: Record<string, string | undefined>): DemoPlaces {
  const url = new URL(env.DEMO_DATABASE_URL ?? config.DATABASE_URL);
  if (!env.DEMO_DATABASE_URL) url.pathname = `${url.pathname.replace(/^\//, '')}${DEMO_DATABASE_SUFFIX}`;
  const databaseName = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!databaseName.endsWith(DEMO_DATABASE_SUFFIX)) {
    throw new Error(`The demo recreates its database on every run, so its name must end in ${DEMO_DATABASE_SUFFIX}; DEMO_DATABASE_URL names "${databaseName}"`);
  }
  const duckdbPath = path.resolve(env.DEMO_DUCKDB_PATH ?? 'data/demo.duckdb');
  return {
    databaseUrl: url.toString(),
    databaseName,
    duckdbPath,
    queuePrefix: `${config.QUEUE_PREFIX}-demo`,
    scratchDir: path.join(path.dirname(duckdbPath), 'demo-scratch'),
  };
}

/** Drops the demo's database, its warehouse file and its queue keys; the container creates them again. */
export async function startFromNothing(places: DemoPlaces, redisUrl: string): Promise<void> {
  if (!places.databaseName.endsWith(DEMO_DATABASE_SUFFIX)) throw new Error(`refusing to drop ${places.databaseName}`);
  const maintenance = new URL(places.databaseUrl);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${places.databaseName.replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
  for (const file of [places.duckdbPath, `${places.duckdbPath}.wal`]) rmSync(file, { force: true });
  rmSync(places.scratchDir, { recursive: true, force: true });
  mkdirSync(path.dirname(places.duckdbPath), { recursive: true });

  // Jobs a previous, interrupted run left would name campaigns that no longer exist.
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${places.queuePrefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
