import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';
import { ownDatabaseUrl } from '../helpers/own-database.js';

const run = promisify(execFile);

/**
 * `npm run demo` as a new user runs it: a child process with nothing set up but Postgres and Redis.
 * It gets a database, a DuckDB file and a queue prefix of its own here (the demo recreates all
 * three on every run), and runs twice to show that a second run works as the first did.
 */
describe('npm run demo', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-demo-'));
  const databaseUrl = new URL(ownDatabaseUrl());
  databaseUrl.pathname = `${databaseUrl.pathname}_demo`;
  const queuePrefix = `qt-${randomUUID().slice(0, 8)}`;
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: TEST_DATABASE_URL,
    DEMO_DATABASE_URL: databaseUrl.toString(),
    DEMO_DUCKDB_PATH: path.join(dir, 'demo.duckdb'),
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
  };
  const demo = () => run('node', ['--import', 'tsx', 'src/demo.ts'], { env, timeout: 120_000 });

  afterAll(async () => {
    const maintenance = new URL(databaseUrl);
    maintenance.pathname = '/postgres';
    const client = new pg.Client({ connectionString: maintenance.toString() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${databaseUrl.pathname.slice(1)}" WITH (FORCE)`).finally(() => client.end());
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${queuePrefix}-demo:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What a run printed and what its database holds afterwards. */
  async function runDemo() {
    const { stdout } = await demo();
    const funnelTarget = Number(/→ target (\d+), control (\d+)/.exec(stdout)?.[1]);
    const counts: Record<string, number> = Object.fromEntries(
      [...stdout.matchAll(/\b(queued|sending|submitted|delivered|failed|suppressed|capped|unknown|cancelled|expired) (\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
    );
    const client = new pg.Client({ connectionString: databaseUrl.toString() });
    await client.connect();
    try {
      const campaigns = await client.query<{ id: string; status: string; created_by: string; approved_by: string; launched_by: string }>(
        'SELECT id, status, created_by, approved_by, launched_by FROM campaigns',
      );
      const ledger = await client.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM message_ledger WHERE NOT is_control GROUP BY status',
      );
      return { stdout, funnelTarget, counts, campaigns: campaigns.rows, ledger: Object.fromEntries(ledger.rows.map((r) => [r.status, r.n])) };
    } finally {
      await client.end();
    }
  }

  it('runs a campaign to completed through the simulator, twice', async () => {
    for (const attempt of [1, 2]) {
      const result = await runDemo();
      expect(result.stdout, `run ${attempt}`).toMatch(/^campaign [0-9a-f-]{36} ".+": completed$/m);
      // Each run starts from nothing: one campaign, created, approved and launched by three people.
      expect(result.campaigns).toHaveLength(1);
      const [campaign] = result.campaigns;
      expect(campaign!.status).toBe('completed');
      expect(new Set([campaign!.created_by, campaign!.approved_by, campaign!.launched_by]).size).toBe(3);

      expect(result.funnelTarget).toBeGreaterThan(0);
      const sent = result.counts.submitted! + result.counts.delivered!;
      expect(sent).toBeGreaterThan(0);
      // The printed counts cover the target once; nothing was left behind.
      const printedTotal = Object.values(result.counts).reduce((a, b) => a + b, 0);
      expect(printedTotal).toBe(result.funnelTarget);
      expect(result.counts.queued! + result.counts.sending! + result.counts.unknown!).toBe(0);
      // And the ledger agrees: every target row was handed to the gateway (receipts may still be arriving).
      const ledgerTotal = Object.values(result.ledger).reduce((a, b) => a + b, 0);
      expect(ledgerTotal).toBe(result.funnelTarget);
      expect((result.ledger.submitted ?? 0) + (result.ledger.delivered ?? 0) + (result.ledger.failed ?? 0)).toBe(sent + result.counts.failed!);
    }
  }, 240_000);
});
