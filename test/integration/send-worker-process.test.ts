import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../src/campaigns/campaign.schemas.js';
import { expectEveryRecipientAccounted } from '../helpers/ledger-checks.js';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SETTINGS = { SEND_BATCH_SIZE: '40', SEND_CHUNK_SIZE: '10', SENDING_TIMEOUT_SECONDS: '5', RECONCILE_INTERVAL_MS: '300' };

/**
 * `npm run worker` as a real process, killed without warning mid-campaign. The test context runs
 * the API side only (no embedded send workers): every message goes through the child processes.
 */
describe('a worker process SIGKILLed mid-campaign', () => {
  let ctx: SendingContext;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // Every submit_sm answered after 150 ms, so a kill finds messages on the wire.
    ctx = await createSendingContext(SETTINGS, { latencyMs: 150 });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await ctx?.close();
  });

  /** `node --import tsx src/worker.ts` on the context's database, Redis and queues; resolves once it is ready. */
  async function startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        DATABASE_URL: ctx.config.DATABASE_URL,
        DATABASE_POOL_SIZE: '4',
        REDIS_URL: ctx.config.REDIS_URL,
        QUEUE_PREFIX: ctx.config.QUEUE_PREFIX,
        SEND_WINDOW: ctx.config.SEND_WINDOW,
        GATEWAY_SIMULATOR: 'false',
        ...SETTINGS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready within 30 s:\n${output}`)), 30_000);
      const onData = (data: Buffer) => {
        output += data.toString();
        if (output.includes('"msg":"worker ready"')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
    return child;
  }

  const sent = (p: Progress | null) => (p ? p.submitted + p.delivered : 0);

  it('leaves every recipient in exactly one final state: none sent twice, none lost, the ones in doubt unknown', async () => {
    const first = await startWorker();
    const id = await ctx.campaign({ throttle: { perSecond: 60 } }, { field: 'city', op: 'eq', value: '广州' });
    await ctx.launch(id);
    await ctx.waitFor(id, (c) => sent(c.progress) >= 40, 20_000);

    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGKILL');
    await exited;
    const atKill = await ctx.get(id);
    expect(atKill.status).toBe('sending');
    // Rows the dead worker held: claimed, perhaps on the wire. Nobody may send them again.
    expect(atKill.progress!.sending).toBeGreaterThan(0);
    expect(atKill.progress!.queued).toBeGreaterThan(0);

    await startWorker();
    // The dead worker's batches are taken over once their BullMQ locks lapse (send.workers.ts).
    await ctx.waitFor(id, (c) => c.status === 'completed', 45_000);
    const { progress } = await ctx.get(id);
    const { rows } = await expectEveryRecipientAccounted(ctx.container.db, id, ctx.simulator, progress);
    expect(progress!.unknown).toBe(atKill.progress!.sending);
    expect(rows.filter((r) => r.status === 'unknown').every((r) => r.error_code === 'WORKER_LOST')).toBe(true);
    expect(sent(progress)).toBeGreaterThan(sent(atKill.progress));
    expect(sent(progress) + progress!.unknown + progress!.suppressed + progress!.capped).toBe(progress!.total);
  }, 90_000);
});
