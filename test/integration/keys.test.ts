import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { ensureBootstrapAdminKey } from '../../src/security/bootstrap.js';
import { findActiveKey } from '../../src/security/keys.js';
import { deleteQueueKeys } from '../helpers/context.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';

const run = promisify(execFile);

function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

describe('bootstrap admin key on a fresh database', () => {
  // Its own database: the shared test database always holds admin keys of other test files.
  const dbName = `quanke_boot_${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-boot-'));
  let container: Container;

  beforeAll(async () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl(dbName),
      DATABASE_POOL_SIZE: '2',
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: `qt-${randomUUID().slice(0, 8)}`,
      DUCKDB_PATH: path.join(dir, 'warehouse.duckdb'),
      DUCKDB_MEMORY_LIMIT: '512MB',
      DUCKDB_THREADS: '1',
      IMPORT_DIR: dir,
      LOAD_SAMPLE_DATA: 'false',
    });
    container = await createContainer(config, createLogger('silent'));
  });
  afterAll(async () => {
    if (container) await deleteQueueKeys(container, container.config.QUEUE_PREFIX);
    await container?.close();
    await dropDatabase(dbName);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates local-admin once, prints it once, writes it owner-only; the last admin key cannot be revoked', async () => {
    const keyFile = path.join(dir, 'data', 'admin.key');
    let printed = '';
    const out = { write: (text: string) => (printed += text) };
    const first = await ensureBootstrapAdminKey(container, { keyFile, out });
    expect(first).toEqual({ created: true, keyFile });

    const key = readFileSync(keyFile, 'utf8').trim();
    expect(key).toMatch(/^qk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(printed).toContain(key);
    expect(printed.split(key).length - 1).toBe(1 + 0);
    expect(await findActiveKey(container.db, key)).toMatchObject({ name: 'local-admin', role: 'admin' });

    let printedAgain = '';
    const second = await ensureBootstrapAdminKey(container, { keyFile, out: { write: (t: string) => (printedAgain += t) } });
    expect(second).toEqual({ created: false });
    expect(printedAgain).toBe('');
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(key);

    const audit = await container.db.selectFrom('audit_log').selectAll().where('action', '=', 'key.create').execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('system:bootstrap');
    expect(JSON.stringify(audit)).not.toContain(key);

    const operator = { name: 'ops', role: 'admin' as const };
    await expect(container.keys.revoke(operator, 'local-admin')).rejects.toMatchObject({ code: 'CONFLICT' });
    await container.keys.create(operator, { name: 'second-admin', role: 'admin' });
    const revoked = await container.keys.revoke(operator, 'local-admin');
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await findActiveKey(container.db, key)).toBeUndefined();
  });
});

describe('keys CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-cli-'));
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: `qt-${randomUUID().slice(0, 8)}`,
    DUCKDB_PATH: path.join(dir, 'warehouse.duckdb'),
    DUCKDB_MEMORY_LIMIT: '512MB',
    DUCKDB_THREADS: '1',
    IMPORT_DIR: dir,
    LOAD_SAMPLE_DATA: 'false',
  };
  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'keys', ...args], { env, cwd: process.cwd() });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    // The CLI processes' containers registered their queues under this run's prefix.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${env.QUEUE_PREFIX}:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  });

  it('creates a key printed once, lists it without the secret, revokes it by name', async () => {
    const name = `cli-${randomUUID().slice(0, 8)}`;
    const created = await cli('create', '--role', 'operator', '--name', name, '--expires', '2099-06-30');
    const key = /^(qk_\S+)$/m.exec(created.stdout)?.[1];
    expect(key).toMatch(/^qk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout).toContain(`created operator key "${name}"`);

    const listed = await cli('list');
    const line = listed.stdout.split('\n').find((l) => l.includes(name));
    expect(line).toMatch(/operator\s+active\s+[0-9a-f]{8}\s+2099-06-30T00:00:00.000Z/);
    expect(listed.stdout).not.toContain(key!);

    const revoked = await cli('revoke', name);
    expect(revoked.stdout).toContain(`revoked operator key "${name}"`);
    const afterList = await cli('list');
    expect(afterList.stdout.split('\n').find((l) => l.includes(name))).toMatch(/operator\s+revoked/);

    const bad = await cli('create', '--role', 'root', '--name', name).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/--role/);
  });
});
