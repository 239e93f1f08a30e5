import pg from 'pg';
import { createDb, ensureDatabase } from '../../src/db/kysely.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { TEST_DATABASE_URL } from './env.js';
import { ensureConsoleBuilt } from '../../src/console/console.build.js';

function adminUrl(): { url: string; name: string } {
  const url = new URL(TEST_DATABASE_URL);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  return { url: url.toString(), name };
}

async function dropTestDatabase(): Promise<void> {
  const { url, name } = adminUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated test database for the run; dropped afterwards so runs are repeatable. */
export async function setup(): Promise<void> {
  process.env.TEST_DATABASE_URL = TEST_DATABASE_URL;
  // Once, before any file: tests that spawn `npm start` then find the web console built (a fresh
  // clone has none); test/e2e rebuilds it when its sources are newer.
  await ensureConsoleBuilt({ whenStale: false });
  await dropTestDatabase();
  await ensureDatabase(TEST_DATABASE_URL);
  const db = createDb(TEST_DATABASE_URL, 2);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

export async function teardown(): Promise<void> {
  await dropTestDatabase();
}
