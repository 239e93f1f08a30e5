import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/kysely.js';
import { createApiKey } from '../../src/security/keys.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no API at ${url} after ${timeoutMs} ms`);
}

/**
 * The process model of DESIGN.md "Processes": while `npm start` serves (and owns the DuckDB file),
 * Postgres-only CLI commands run beside it, warehouse commands go through it, and SIGTERM to the
 * process `npm start` started stops the server.
 */
describe('npm start beside the CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-proc-'));
  const prefix = `qt-${randomUUID().slice(0, 8)}`;
  let port: number;
  let server: ChildProcess;
  let output = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    port = await freePort();
    const db = createDb(TEST_DATABASE_URL, 1);
    // An admin key exists before start, so the server writes no bootstrap key into the checkout.
    const admin = await createApiKey(db, { name: `proc-${prefix}`, role: 'admin', createdBy: 'test' });
    await db.destroy();
    env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: String(port),
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      DUCKDB_PATH: path.join(dir, 'warehouse.duckdb'),
      DUCKDB_MEMORY_LIMIT: '512MB',
      IMPORT_DIR: dir,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      LOAD_SAMPLE_DATA: 'false',
      GATEWAY_SIMULATOR: 'false',
      QUANKE_API_KEY: admin.key,
    };
    server = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForHealth(`http://127.0.0.1:${port}`, 60_000);
  }, 90_000);

  afterAll(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => run('node', ['--import', 'tsx', 'src/cli.ts', ...args], { env, timeout: 60_000 });

  it('runs Postgres-only commands while the server holds the warehouse', async () => {
    const migrate = await cli('migrate');
    expect(migrate.stdout).toContain('migrations: up to date');
    const created = await cli('keys', 'create', '--role', 'analyst', '--name', `proc-analyst-${prefix}`);
    expect(created.stdout).toMatch(/created analyst key/);
    const listed = await cli('keys', 'list');
    expect(listed.stdout).toContain(`proc-analyst-${prefix}`);
  });

  it('sends warehouse commands through the running API and says so', async () => {
    const imported = await cli('import', 'products', 'fixtures/sample/products.csv');
    expect(imported.stderr).toContain(`through the running API at http://127.0.0.1:${port}`);
    expect(imported.stdout).toMatch(/products: \d+ rows/);
    await cli('import', 'customers', 'fixtures/sample/customers.csv');
    const preview = await cli('segment', 'preview', '{"field":"arpu","op":"gte","value":0}');
    expect(preview.stderr).toContain('through the running API');
    expect(preview.stdout).toMatch(/count: \d+ /);
  });

  it('stops the server when the process npm start started gets SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const started = Date.now();
    server.kill('SIGTERM');
    const code = await exited;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(code).toBe(0);
    // The node child must be gone too: nothing answers any more.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    expect(output).toContain('shutdown complete');
  });
});
