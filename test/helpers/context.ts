import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { createApiKey } from '../../src/security/keys.js';
import { ROLES, type Role } from '../../src/security/roles.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.js';

export interface TestContext {
  container: Container;
  app: FastifyInstance;
  config: Config;
  /** A scratch folder (also IMPORT_DIR) removed at close. */
  dir: string;
  /** `{ authorization: 'Bearer …' }` for a key of that role. */
  auth(role: Role): { authorization: string };
  close(): Promise<void>;
}

/**
 * A whole service over the real test Postgres and Redis, with its own DuckDB file and queue
 * prefix in a scratch folder, so test files run in parallel without sharing warehouse state.
 */
export async function createTestContext(env: Record<string, string> = {}): Promise<TestContext> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: `qt-${randomUUID().slice(0, 8)}`,
    DUCKDB_PATH: path.join(dir, 'warehouse.duckdb'),
    DUCKDB_MEMORY_LIMIT: '1GB',
    DUCKDB_THREADS: '1',
    IMPORT_DIR: dir,
    UPLOAD_DIR: path.join(dir, 'uploads'),
    LOAD_SAMPLE_DATA: 'false',
    ...env,
  });
  const container = await createContainer(config, createLogger('silent'));
  const app = await buildApp(container, { logRequests: false });
  await app.ready();
  const keys = new Map<Role, string>();
  for (const role of ROLES) {
    const created = await createApiKey(container.db, { name: `test-${role}-${randomUUID().slice(0, 6)}`, role, createdBy: 'test' });
    keys.set(role, created.key);
  }
  return {
    container,
    app,
    config,
    dir,
    auth: (role) => ({ authorization: `Bearer ${keys.get(role)}` }),
    async close() {
      await app.close();
      await deleteQueueKeys(container, config.QUEUE_PREFIX);
      await container.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** BullMQ writes a few keys (queue meta, events) under the context's own prefix; remove them all. */
export async function deleteQueueKeys(container: Container, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await container.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await container.redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
