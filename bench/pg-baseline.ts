import { execFile } from 'node:child_process';
import { openSync, readSync, closeSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadCatalog, type ColumnType } from '../src/catalog/catalog.js';
import { ensureDatabase } from '../src/db/kysely.js';
import { FIXTURE_DATASETS } from '../fixtures/generate.js';
import { sizeLabel, type FixtureSet } from './harness.js';

/**
 * The baseline a team without Quanke would have: the same fixture files in Postgres (default
 * server settings), with the indexes a competent team would create, analysed. Each size lives in
 * its own schema `warehouse_<size>` of the bench database, loaded once and kept; queries run with
 * that schema on the search path, so SQL text names plain `customers`, `usage_monthly`, `lists`…
 */
export interface PgBaseline {
  schema: string;
  customers: number;
  /** Runs one statement (values bound as $1, $2…) and reports how long Postgres took. */
  query<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; ms: number }>;
  close(): Promise<void>;
}

const execFileAsync = promisify(execFile);

function pgType(type: ColumnType, name: string): string {
  switch (type) {
    case 'bigint':
      return 'BIGINT';
    case 'integer':
      return 'INTEGER';
    case 'decimal':
      return 'NUMERIC(10,2)';
    case 'varchar':
      return name === 'msisdn' ? 'VARCHAR(11)' : 'TEXT';
    case 'date':
      return 'DATE';
    case 'boolean':
      return 'BOOLEAN';
  }
}

/** The indexes a team would add for segment-style queries on these tables. */
const INDEXES: Record<string, string[]> = {
  customers: ['PRIMARY KEY (customer_id)', '(city)', '(brand)', '(msisdn)'],
  usage_monthly: ['PRIMARY KEY (customer_id, month)'],
  subscriptions: ['(customer_id, product_id)'],
  tags: ['PRIMARY KEY (customer_id, tag)', '(tag)'],
  products: ['PRIMARY KEY (product_id)'],
  grids: ['PRIMARY KEY (grid_id)'],
  lists: ['(msisdn)', '(list_name, msisdn)'],
};

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function headerOf(file: string): string[] {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString('utf8').split('\n')[0]!.trim().split(',');
  } finally {
    closeSync(fd);
  }
}

/**
 * Server-side COPY reads the file as the Postgres server user (fast, no round trip); where that
 * user may not read it, psql's client-side \copy streams it instead.
 */
async function copyCsv(client: pg.Client, databaseUrl: string, table: string, file: string): Promise<void> {
  const columns = headerOf(file).map((c) => `"${c}"`).join(', ');
  const options = 'WITH (FORMAT csv, HEADER true)';
  try {
    await client.query(`COPY ${table} (${columns}) FROM ${literal(file)} ${options}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '42501' && code !== '58P01') throw error;
    await execFileAsync('psql', [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${table} (${columns}) FROM ${literal(file)} ${options}`]);
  }
}

function fingerprintOf(fixture: FixtureSet): string {
  return `${fixture.customers}:${fixture.seed}:${fixture.months}:${fixture.fingerprint}`;
}

async function isLoaded(client: pg.Client, schema: string, fingerprint: string): Promise<boolean> {
  const found = await client.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = '_fixture'`,
    [schema],
  );
  if (found.rowCount === 0) return false;
  const marker = await client.query(`SELECT fingerprint FROM "${schema}"._fixture`);
  return marker.rows[0]?.fingerprint === fingerprint;
}

async function load(client: pg.Client, databaseUrl: string, schema: string, fixture: FixtureSet, log: (m: string) => void): Promise<void> {
  const catalog = loadCatalog();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.query(`CREATE SCHEMA "${schema}"`);
  // Unlogged: loading skips the WAL; reads, which are what the baseline measures, are unaffected.
  for (const name of FIXTURE_DATASETS) {
    const dataset = catalog.dataset(name)!;
    const columns = dataset.columns.map((c) => `"${c.name}" ${pgType(c.type, c.name)}`).join(', ');
    await client.query(`CREATE UNLOGGED TABLE "${schema}"."${name}" (${columns})`);
  }
  await client.query(
    `CREATE UNLOGGED TABLE "${schema}".lists (list_name TEXT NOT NULL, msisdn VARCHAR(11) NOT NULL, reason TEXT, expires_at TIMESTAMPTZ)`,
  );
  for (const name of FIXTURE_DATASETS) {
    const started = performance.now();
    await copyCsv(client, databaseUrl, `"${schema}"."${name}"`, fixture.file(name, 'csv'));
    log(`pg baseline ${sizeLabel(fixture.customers)}: ${name} copied in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await copyCsv(client, databaseUrl, `"${schema}".lists`, fixture.listsFile);
  await client.query(`SET maintenance_work_mem = '1GB'`);
  for (const [table, indexes] of Object.entries(INDEXES)) {
    for (const index of indexes) {
      if (index.startsWith('PRIMARY KEY')) await client.query(`ALTER TABLE "${schema}"."${table}" ADD ${index}`);
      else await client.query(`CREATE INDEX ON "${schema}"."${table}" ${index}`);
    }
  }
  await client.query(`ANALYZE`);
  await client.query(`CREATE TABLE "${schema}"._fixture (fingerprint TEXT NOT NULL)`);
  await client.query(`INSERT INTO "${schema}"._fixture VALUES ($1)`, [fingerprintOf(fixture)]);
}

/** Opens (loading it first if this fixture is not there yet) the Postgres baseline of one size. */
export async function openPgBaseline(
  fixture: FixtureSet,
  options: { databaseUrl: string; log?: (message: string) => void },
): Promise<PgBaseline> {
  const log = options.log ?? (() => undefined);
  const schema = `warehouse_${sizeLabel(fixture.customers).toLowerCase()}`;
  await ensureDatabase(options.databaseUrl);
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    // Two bench processes may ask for the same size at once: one loads, the other waits and reuses.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [schema]);
    try {
      if (!(await isLoaded(client, schema, fingerprintOf(fixture)))) {
        log(`pg baseline ${sizeLabel(fixture.customers)}: loading into ${schema}`);
        const started = performance.now();
        await load(client, options.databaseUrl, schema, fixture, log);
        log(`pg baseline ${sizeLabel(fixture.customers)}: loaded, indexed and analysed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [schema]);
    }
    await client.query(`SET search_path TO "${schema}", public`);
  } catch (error) {
    await client.end();
    throw error;
  }
  return {
    schema,
    customers: fixture.customers,
    async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
      const started = performance.now();
      const result = await client.query(sql, params);
      return { rows: result.rows as T[], ms: performance.now() - started };
    },
    close: () => client.end(),
  };
}
