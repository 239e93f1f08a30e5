import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { TEST_DATABASE_URL } from './env.js';

/**
 * A Postgres database of the test file's own, for tests that read a whole table (the mirrors read
 * every list entry) and so must not see rows other test files write in parallel. The container
 * creates and migrates it; `dropOwnDatabase` removes it.
 */
export function ownDatabaseUrl(): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/quanke_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  return url.toString();
}

export async function dropOwnDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  if (!/^quanke_test_[0-9a-f]{12}$/.test(name)) throw new Error(`refusing to drop ${name}`);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
