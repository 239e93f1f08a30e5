import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

const run = promisify(execFile);
// Each command is a child process that loads the project and opens a warehouse: seconds apiece on a busy machine.
const CHILD_PROCESS_TEST_MS = 240_000;

/** A loopback port nothing listens on, so the CLI finds no API and takes the direct path. */
async function unusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * `campaign status|pause|resume|cancel|list|launch` as a child process against a campaign this
 * file launched in-process. No API answers, so the CLI opens a warehouse file of its own (the
 * test holds the context's); these commands read and change Postgres and Redis only.
 */
describe('the campaign CLI against a launched campaign', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-campaign-cli-'));
  let ctx: SendingContext;
  let env: Record<string, string | undefined>;

  const cli = (...args: string[]) => run('node', ['--import', 'tsx', 'src/cli.ts', 'campaign', ...args], { env, timeout: 60_000 });
  const failing = (...args: string[]) =>
    cli(...args).then(
      (ok) => ({ code: 0, ...ok }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const ledgerCounts = async (id: string) => {
    const rows = await ctx.container.db
      .selectFrom('message_ledger')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .where('campaign_id', '=', id)
      .where('is_control', '=', false)
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  };

  beforeAll(async () => {
    ctx = await createSendingContext();
    env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: ctx.config.DATABASE_URL,
      REDIS_URL: ctx.config.REDIS_URL,
      // The context's queues, so a resume queues the batches its senders take.
      QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
      DUCKDB_PATH: path.join(dir, 'cli.duckdb'),
      IMPORT_DIR: dir,
      UPLOAD_DIR: path.join(dir, 'uploads'),
      PORT: String(await unusedPort()),
    };
  });
  afterAll(async () => {
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows, pauses, resumes and watches a campaign to completed', async () => {
    // No senders yet: the launched campaign waits, all queued, while the CLI looks at it.
    const id = await ctx.campaign({ throttle: { perSecond: 20 } }, { all: [{ field: 'status', op: 'eq', value: 'active' }, { field: 'city', op: 'eq', value: '珠海' }] });
    await ctx.launch(id);
    const queued = (await ledgerCounts(id)).queued!;
    expect(queued).toBeGreaterThan(0);

    const status = await cli('status', id);
    expect(status.stderr).toContain('working on Postgres directly');
    expect(status.stdout).toMatch(new RegExp(`^campaign ${id} ".+": sending$`, 'm'));
    expect(status.stdout).toContain(`queued ${queued}  sending 0  submitted 0`);

    const paused = await cli('pause', id);
    expect(paused.stdout).toMatch(new RegExp(`^campaign ${id} ".+": paused$`, 'm'));
    expect((await ctx.get(id)).status).toBe('paused');

    const resumed = await cli('resume', id);
    expect(resumed.stdout).toMatch(new RegExp(`^campaign ${id} ".+": sending$`, 'm'));
    await ctx.startSenders();

    const watched = await cli('status', id, '--watch');
    // Off a terminal the bar prints a line a second, then the last reading.
    expect(watched.stdout).toMatch(/\| \d+\/\d+ \| [\d.]+\/s \| ETA \S+ \| (sending|completed)/);
    expect(watched.stdout).toMatch(new RegExp(`^campaign ${id} ".+": completed$`, 'm'));
    const final = await ledgerCounts(id);
    expect(final.queued ?? 0).toBe(0);
    const sent = (final.submitted ?? 0) + (final.delivered ?? 0) + (final.failed ?? 0);
    expect(sent).toBeGreaterThan(0);
    // The printed counts are the ledger's (read after completion; receipts only move submitted rows on).
    const printed = Object.fromEntries([...watched.stdout.matchAll(/\b(submitted|delivered|failed|suppressed|capped) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(printed.submitted! + printed.delivered! + printed.failed!).toBe(sent);
    expect(printed.suppressed).toBe(final.suppressed ?? 0);
    expect(printed.capped).toBe(final.capped ?? 0);

    const list = await cli('list', '--status', 'completed');
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+completed\\s+${queued}\\s+${sent}\\s`, 'm'));
  }, CHILD_PROCESS_TEST_MS);

  it('cancels a scheduled campaign, and refuses what the state machine refuses', async () => {
    const id = await ctx.campaign({}, { all: [{ field: 'status', op: 'eq', value: 'active' }, { field: 'city', op: 'eq', value: '云浮' }] });
    await ctx.launch(id, new Date(Date.now() + 3_600_000).toISOString());
    expect((await ctx.get(id)).status).toBe('scheduled');

    const cancelled = await cli('cancel', id);
    expect(cancelled.stdout).toMatch(new RegExp(`^campaign ${id} ".+": cancelled$`, 'm'));
    const counts = await ledgerCounts(id);
    expect(Object.keys(counts)).toEqual(['cancelled']);
    expect(cancelled.stdout).toContain(`cancelled ${counts.cancelled}`);

    const again = await failing('launch', id, '--no-watch');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/cancelled/);

    const badTime = await failing('launch', id, '--at', 'tomorrow');
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toContain('--at must be an ISO date-time');
  }, CHILD_PROCESS_TEST_MS);
});
