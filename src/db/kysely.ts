import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Database } from './schema.js';

// BIGINT (int8) counts fit comfortably in a JS number for this product's sizes (< 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// NUMERIC (money) as number: DECIMAL(10,2) values are exact enough in a double for display and sums.
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export type Db = Kysely<Database>;

export function createDb(databaseUrl: string, poolSize: number): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * Creates the service's database when it does not exist, so a fresh machine needs no manual step.
 * Connects to the server's `postgres` maintenance database to do so.
 */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`DATABASE_URL names an unusual database "${name}"`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } catch (error) {
        // Two processes starting together: the other one created it first.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
}
