import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { safeIdent } from '../conditions/dialect.js';
import type { Warehouse } from './duckdb.js';
import { PROFILE_TABLE } from './schema.js';

/**
 * The warehouse's tables in a Postgres schema, so the Postgres dialect runs Quanke's own SQL over
 * exactly the data DuckDB answers from: the precomputed profile (window columns included), the
 * related datasets, `usage_months`, resolved list members, contact history and segment member
 * tables. Used by the cross-engine tests and by the bench's same-work baseline; it is a copy, not
 * a second system of record.
 */

/** The tables conditions, previews and the funnel read, besides segment member tables. */
export const CONDITION_TABLES = [PROFILE_TABLE, 'usage_monthly', 'usage_months', 'subscriptions', 'tags', 'list_members', 'contact_history'];

/**
 * The indexes a competent team builds for these statements on a row store: keys for the
 * semi-joins (lists, subscriptions, usage, segments) and the low-cardinality columns analysts
 * filter on most. Previews over most of the profile still scan it; these are what the planner
 * may choose instead when a condition is selective.
 */
const INDEXES: Record<string, string[]> = {
  [PROFILE_TABLE]: ['PRIMARY KEY (customer_id)', '(city)', '(brand)', '(status)', '(msisdn)'],
  usage_monthly: ['(customer_id, month)', '(month)'],
  subscriptions: ['(customer_id)', '(product_id, customer_id)'],
  tags: ['(customer_id)', '(tag, customer_id)'],
  list_members: ['(list_name, customer_id)'],
  contact_history: ['(sent_at, customer_id)'],
};

/** DuckDB's type names as Postgres spells them. */
function postgresColumnType(duckdbType: string): string {
  const type = duckdbType.toUpperCase();
  if (/^DECIMAL\(\d+,\d+\)$/.test(type)) return type.replace('DECIMAL', 'NUMERIC');
  switch (type) {
    case 'BIGINT':
    case 'INTEGER':
    case 'SMALLINT':
    case 'DATE':
    case 'BOOLEAN':
    case 'TIMESTAMP':
      return type;
    case 'TINYINT':
      return 'SMALLINT';
    case 'UINTEGER':
      return 'BIGINT';
    case 'UBIGINT':
    case 'HUGEINT':
      return 'NUMERIC';
    case 'VARCHAR':
      return 'TEXT';
    case 'DOUBLE':
      return 'DOUBLE PRECISION';
    case 'FLOAT':
      return 'REAL';
    case 'TIMESTAMP WITH TIME ZONE':
      return 'TIMESTAMPTZ';
    default:
      throw new Error(`no Postgres type for DuckDB ${duckdbType}`);
  }
}

export interface CopyToPostgresOptions {
  /** The Postgres schema to (re)create; every copied table is replaced. */
  schema: string;
  /** DuckDB table names (plain identifiers); default CONDITION_TABLES. */
  tables?: readonly string[];
  /** Build INDEXES and analyse (default true). */
  index?: boolean;
  log?: (message: string) => void;
}

/**
 * Copies DuckDB tables into `schema` (created if missing) through CSV: DuckDB writes each table,
 * Postgres reads it with COPY FROM STDIN. Tables are unlogged: they are a copy, rebuilt at will.
 * Returns the rows copied per table, checked against DuckDB's count.
 */
export async function copyWarehouseToPostgres(warehouse: Warehouse, client: pg.ClientBase, options: CopyToPostgresOptions): Promise<Record<string, number>> {
  const schema = safeIdent(options.schema);
  const tables = options.tables ?? CONDITION_TABLES;
  const log = options.log ?? (() => undefined);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-pgcopy-'));
  const copied: Record<string, number> = {};
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    for (const name of tables) {
      const table = safeIdent(name);
      const columns = await warehouse.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
        [name],
      );
      if (columns.length === 0) throw new Error(`no DuckDB table ${name} to copy`);
      const file = path.join(dir, `${name}.csv`);
      const started = performance.now();
      await warehouse.read((c) => c.run(`COPY ${table} TO '${file.replaceAll("'", "''")}' (FORMAT csv, HEADER true)`));
      const [{ n } = { n: 0 }] = await warehouse.query<{ n: number }>(`SELECT count(*)::BIGINT AS n FROM ${table}`);
      await client.query(`DROP TABLE IF EXISTS ${schema}.${table}`);
      const ddl = columns.map((c) => `${safeIdent(c.column_name)} ${postgresColumnType(c.data_type)}`).join(', ');
      await client.query(`CREATE UNLOGGED TABLE ${schema}.${table} (${ddl})`);
      const copy = client.query(copyFrom(`COPY ${schema}.${table} FROM STDIN WITH (FORMAT csv, HEADER true)`));
      await pipeline(createReadStream(file), copy);
      copied[name] = Number(copy.rowCount ?? 0);
      if (copied[name] !== n) throw new Error(`copied ${copied[name]} rows of ${name} into Postgres, DuckDB has ${n}`);
      rmSync(file, { force: true });
      log(`postgres copy: ${name} (${n} rows) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (options.index !== false) {
      const started = performance.now();
      await client.query(`SET maintenance_work_mem = '512MB'`);
      for (const name of tables) {
        const table = `${schema}.${safeIdent(name)}`;
        const indexes = INDEXES[name] ?? (name.startsWith('seg_') ? ['(customer_id)'] : []);
        for (const index of indexes) {
          await client.query(index.startsWith('PRIMARY KEY') ? `ALTER TABLE ${table} ADD ${index}` : `CREATE INDEX ON ${table} ${index}`);
        }
        await client.query(`ANALYZE ${table}`);
      }
      log(`postgres copy: indexed and analysed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    return copied;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PostgresSessionSettings {
  /** `max_parallel_workers_per_gather` (default 2: this machine's cores). */
  parallelWorkers?: number;
  /** `work_mem` for the session's hashes and sorts (default 256MB). */
  workMem?: string;
}

/**
 * What a team tunes for analytical statements on one session: parallel scans and aggregates, and
 * enough memory that the semi-joins' hash tables and the preview's grouping stay in memory.
 */
export async function tunePostgresSession(client: pg.ClientBase, schema: string, settings: PostgresSessionSettings = {}): Promise<void> {
  const workers = settings.parallelWorkers ?? 2;
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`bad parallel worker count ${workers}`);
  const workMem = settings.workMem ?? '256MB';
  if (!/^\d+(kB|MB|GB)$/.test(workMem)) throw new Error(`bad work_mem ${workMem}`);
  await client.query(`SET search_path TO ${safeIdent(schema)}, public`);
  await client.query(`SET max_parallel_workers_per_gather = ${workers}`);
  await client.query(`SET work_mem = '${workMem}'`);
}
