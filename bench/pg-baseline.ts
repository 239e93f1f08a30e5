import pg from 'pg';
import type { Container } from '../src/container.js';
import { ensureDatabase } from '../src/db/kysely.js';
import { PostgresSegmentEngine } from '../src/segments/segment.engine.postgres.js';
import { copyWarehouseToPostgres, tunePostgresSession, type PostgresSessionSettings } from '../src/warehouse/postgres.copy.js';
import { PROFILE_TABLE } from '../src/warehouse/schema.js';
import { sizeLabel, type FixtureSet } from './harness.js';

/**
 * The same-work baseline: Quanke's own SQL, compiled through the Postgres dialect, over the same
 * precomputed profile (window columns included), resolved list members and subscriptions as the
 * bench warehouse, copied from it into schema `profile_<size>` of the bench database, with the
 * indexes a competent team would build (`copyWarehouseToPostgres`), analysed, and a session tuned
 * for analytics (parallel workers, work_mem). What differs from DuckDB is then the engine, not the
 * work: no aggregate computed at query time on one side and read from a column on the other.
 */
export interface PgBaseline {
  schema: string;
  customers: number;
  settings: Required<PostgresSessionSettings>;
  /** Previews and member lists on the copy, through the Postgres dialect. */
  engine: PostgresSegmentEngine;
  /** Runs one statement (values bound as $1, $2…) and reports how long Postgres took. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; ms: number }>;
  close(): Promise<void>;
}

/** What the bench's conditions read; usage_monthly is not needed while windows fit the profile's pivot. */
const BASELINE_TABLES = [PROFILE_TABLE, 'usage_months', 'subscriptions', 'tags', 'list_members'];

/** Session settings: BENCH_PG_WORKERS (default 2, the cores), BENCH_PG_WORK_MEM (default 256MB). */
function sessionSettings(): Required<PostgresSessionSettings> {
  return { parallelWorkers: Number(process.env.BENCH_PG_WORKERS ?? 2), workMem: process.env.BENCH_PG_WORK_MEM ?? '256MB' };
}

/**
 * What the copy was made from: the fixture, the warehouse's snapshot versions and its list
 * members. A change in any of them reloads the schema.
 */
async function sourceFingerprint(fixture: FixtureSet, container: Container): Promise<string> {
  const snapshots = await container.warehouse.query<{ dataset: string; version: number }>('SELECT dataset, version FROM _snapshots ORDER BY dataset');
  const lists = await container.warehouse.query<{ list_name: string; n: number }>(
    'SELECT list_name, count(*)::BIGINT AS n FROM list_members GROUP BY list_name ORDER BY list_name',
  );
  return JSON.stringify({ customers: fixture.customers, fixture: fixture.fingerprint, snapshots, lists, tables: BASELINE_TABLES });
}

async function isLoaded(client: pg.Client, schema: string, fingerprint: string): Promise<boolean> {
  const found = await client.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = '_source'`, [schema]);
  if (found.rowCount === 0) return false;
  const marker = await client.query(`SELECT fingerprint FROM "${schema}"._source`);
  return marker.rows[0]?.fingerprint === fingerprint;
}

/**
 * Opens the baseline of one size, copying the bench warehouse's tables first when the copy is
 * missing or stale. Call it after the warehouse holds what the cases read (the bench lists).
 */
export async function openPgBaseline(
  fixture: FixtureSet,
  container: Container,
  options: { databaseUrl: string; log?: (message: string) => void },
): Promise<PgBaseline> {
  const log = options.log ?? (() => undefined);
  const schema = `profile_${sizeLabel(fixture.customers).toLowerCase()}`;
  await ensureDatabase(options.databaseUrl);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  const settings = sessionSettings();
  try {
    // Two bench processes may ask for the same size at once: one loads, the other waits and reuses.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [schema]);
    try {
      const fingerprint = await sourceFingerprint(fixture, container);
      if (!(await isLoaded(client, schema, fingerprint))) {
        log(`pg baseline ${sizeLabel(fixture.customers)}: copying the warehouse into ${schema}`);
        const started = performance.now();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await copyWarehouseToPostgres(container.warehouse, client, { schema, tables: BASELINE_TABLES, log });
        await client.query(`CREATE TABLE "${schema}"._source (fingerprint TEXT NOT NULL)`);
        await client.query(`INSERT INTO "${schema}"._source VALUES ($1)`, [fingerprint]);
        log(`pg baseline ${sizeLabel(fixture.customers)}: copied, indexed and analysed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [schema]);
    }
    await tunePostgresSession(client, schema, settings);
  } catch (error) {
    await client.end();
    throw error;
  }
  return {
    schema,
    customers: fixture.customers,
    settings,
    engine: new PostgresSegmentEngine(client),
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      const started = performance.now();
      const result = await client.query(sql, params);
      return { rows: result.rows as T[], ms: performance.now() - started };
    },
    close: () => client.end(),
  };
}
