import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { Config } from '../src/config.js';
import type { Container } from '../src/container.js';
import { CampaignProfiles } from '../src/campaigns/campaign.profiles.js';
import { CampaignService } from '../src/campaigns/campaign.service.js';
import type { Gateway, OutboundMessage, SubmitOutcome } from '../src/gateways/gateway.js';
import { findGateway, insertGateway, updateGateway } from '../src/gateways/gateway.repository.js';
import { SmppGateway, smppGatewayConfigSchema } from '../src/gateways/smpp/smpp.gateway.js';
import { JobQueues } from '../src/jobs/queues.js';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import type { GatewaySource } from '../src/sending/batch.sender.js';
import { dropLedgerPartition, LedgerFreezer } from '../src/sending/ledger.freeze.js';
import { claimRange, ledgerPartition, recordOutcomes, scanLedger } from '../src/sending/ledger.repository.js';
import { SendDispatch } from '../src/sending/send.dispatch.js';
import { startSendWorkers } from '../src/sending/send.workers.js';
import { targetingTable } from '../src/warehouse/tables.js';
import { BENCH_DATABASE_URL } from './context.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';

/**
 * The send pipeline (issue 13's bench) on the bench warehouse's customers, every recipient of a
 * marketing campaign (a one-step policy on an empty list, no control group, so the ledger holds
 * one row per customer with a number):
 *
 * - launch: CampaignService.launch (DuckDB → CSV → COPY FREEZE into a new ledger partition, the
 *   status change, then the batch jobs), beside a raw COPY FREEZE of the same rows;
 * - dispatch: in-process send workers (BullMQ batches → BatchSender) to an in-process accept-all
 *   gateway, throttle off, beside the ledger's own ceiling (claim + record statements alone) and
 *   one BullMQ job per message running the same BatchSender on batches of one (claim, suppression,
 *   cap, render, submit, record: one row each; ~3 commits per message, so it is WAL-flush bound);
 * - the same through the SMPP simulator (its own process, real PDUs on loopback);
 * - throttle accuracy: two `src/worker.ts` processes sharing a 500/s gateway rate.
 *
 * Marketing class by default, so every message pays the five-list suppression probe and the daily cap
 * upsert; the bench database's `frequency_caps` are emptied before every run so the cap of one
 * per day never refuses. Its jobs live under their own queue prefix, obliterated between runs;
 * ledger partitions, message parts and contact history of its campaigns are dropped after each.
 *
 * Knobs: BENCH_SEND_CLASS (marketing, the default, or notification: blacklist only, no cap),
 * BENCH_SEND_CASES (launch,dispatch,ceiling,per-message,smpp,throttle; default all),
 * BENCH_SEND_CHUNK (statements' chunk, default 1000), BENCH_SEND_BATCH (recipients per job, 2000),
 * BENCH_SEND_CONCURRENCY (jobs at once per worker, 4), BENCH_SEND_BASELINE_MESSAGES (20000),
 * BENCH_SEND_BASELINE_CONCURRENCY (16), BENCH_SEND_SMPP_MESSAGES (100000), BENCH_SEND_SMPP_WINDOW
 * (maxOutstanding, 500), BENCH_SEND_THROTTLE_SECONDS (30), BENCH_SEND_LAUNCH_RUNS (3).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const actor = { ...SYSTEM_ACTOR, name: 'bench' };
const PREFIX = 'quanke-bench-send';
const EMPTY_LIST = 'bench_send_none';
const POLICY = 'bench-send';
const GATEWAYS = { accept: 'bench-accept', smpp: 'bench-smpp', throttle: 'bench-throttle' } as const;
const MESSAGE = { text: '尊敬的{name}，您本月流量已用{data_mb}MB', signature: '【中国移动】', optOutSuffix: '回T退订' };
const THROTTLE_RATE = 500;

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number, got ${raw}`);
  return value;
}

const CHUNK = knob('BENCH_SEND_CHUNK', 1000);
const BATCH = knob('BENCH_SEND_BATCH', 2000);
const CONCURRENCY = knob('BENCH_SEND_CONCURRENCY', 4);
const BASELINE_MESSAGES = knob('BENCH_SEND_BASELINE_MESSAGES', 20_000);
const BASELINE_CONCURRENCY = knob('BENCH_SEND_BASELINE_CONCURRENCY', 16);
const SMPP_MESSAGES = knob('BENCH_SEND_SMPP_MESSAGES', 100_000);
const SMPP_WINDOW = knob('BENCH_SEND_SMPP_WINDOW', 500);
const THROTTLE_SECONDS = knob('BENCH_SEND_THROTTLE_SECONDS', 30);
const LAUNCH_RUNS = knob('BENCH_SEND_LAUNCH_RUNS', 3);
const CLASS = (process.env.BENCH_SEND_CLASS ?? 'marketing') as 'marketing' | 'notification';
if (CLASS !== 'marketing' && CLASS !== 'notification') throw new Error(`BENCH_SEND_CLASS must be marketing or notification, got ${String(CLASS)}`);
const CASES = new Set((process.env.BENCH_SEND_CASES ?? 'launch,dispatch,ceiling,per-message,smpp,throttle').split(',').map((s) => s.trim()));

/** Takes every message, one gateway id each (ids never repeat, so message_parts inserts them all). */
class AcceptAllGateway implements Gateway {
  readonly name = GATEWAYS.accept;
  private next = Date.now() * 1000;
  async submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]> {
    return batch.map((m) => ({ kind: 'accepted', ref: m.ref, gatewayMessageIds: [String(this.next++)] }));
  }
  status() {
    return { status: 'connected' as const, consecutiveFailures: 0 };
  }
  on(): void {}
  async close(): Promise<void> {}
}

const unthrottled = (gateway: Gateway): GatewaySource => ({ get: async () => gateway, ratePerSecond: async () => 0 });

interface Simulator {
  port: number;
  count(): Promise<{ submits: number; accepted: number; bound: number; at: number }>;
  stop(): Promise<void>;
}

/** The SMSC simulator in its own process (bench/smsc.process.ts). */
async function startSimulator(): Promise<Simulator> {
  const child = fork(path.join(REPO, 'bench', 'smsc.process.ts'), [], { execArgv: ['--import', 'tsx'], cwd: REPO, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the simulator process exited with ${code}`)));
  });
  return {
    port,
    count: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as { submits: number; accepted: number; bound: number; at: number }));
        child.send('count');
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

function smppSettings(port: number, maxOutstanding: number): Record<string, unknown> {
  return smppGatewayConfigSchema.parse({
    host: '127.0.0.1',
    port,
    systemId: 'quanke',
    password: '',
    sourceAddr: '1069000',
    maxOutstanding,
    // As the simulator writes them.
    messageIdFormat: { submit: 'hex', receipt: 'decimal' },
  });
}

async function upsertGateway(p: Prepared, name: string, settings: Record<string, unknown>, ratePerSecond: number): Promise<void> {
  const write = { name, protocol: 'smpp' as const, settings, ratePerSecond, actor: actor.name };
  if (await findGateway(p.container.db, name)) await updateGateway(p.container.db, write);
  else await insertGateway(p.container.db, { ...write, simulator: true });
}

interface Prepared {
  container: Container;
  size: number;
  segmentId: string;
  queues: JobQueues;
  simulator: Simulator;
  /** Where the freezer writes its CSV (removed when the runner ends). */
  scratch: string;
  /** Campaigns this suite launched and has not cleaned up yet. */
  live: Set<string>;
}

let prepared: Promise<Prepared> | undefined;

function prepare(ctx: BenchContext, size: number): Promise<Prepared> {
  prepared ??= prepareOnce(ctx, size);
  return prepared;
}

async function prepareOnce(ctx: BenchContext, size: number): Promise<Prepared> {
  const container = await ctx.quanke(size);
  if (!(await container.lists.exists(EMPTY_LIST))) await container.lists.create({ name: EMPTY_LIST, label: 'bench: send (always empty)' }, actor);
  await container.policies.put(POLICY, { description: 'bench: keeps everyone', steps: [{ type: 'list', list: EMPTY_LIST }] }, actor);
  const segment = await container.segments.create({ name: `bench send all ${sizeLabel(size)} ${randomUUID().slice(0, 8)}`, condition: { field: 'msisdn', op: 'not_null' } }, actor);
  ctx.log(`send ${sizeLabel(size)}: segment of ${segment.count} customers with a number`);
  const simulator = await startSimulator();
  const p: Prepared = { container, size, segmentId: segment.id, queues: new JobQueues(container.redis, PREFIX), simulator, scratch: ctx.scratch('send-freeze'), live: new Set() };
  await upsertGateway(p, GATEWAYS.accept, smppSettings(simulator.port, SMPP_WINDOW), 0);
  await upsertGateway(p, GATEWAYS.smpp, smppSettings(simulator.port, SMPP_WINDOW), 0);
  await upsertGateway(p, GATEWAYS.throttle, smppSettings(simulator.port, 50), THROTTLE_RATE);
  await cleanQueues(p);
  return p;
}

function sendConfig(p: Prepared, overrides: Partial<Config> = {}): Config {
  return {
    ...p.container.config,
    QUEUE_PREFIX: PREFIX,
    SEND_WINDOW: '00:00-24:00',
    CAMPAIGN_APPROVAL: 'off',
    SEND_BATCH_SIZE: BATCH,
    SEND_CHUNK_SIZE: CHUNK,
    SEND_CONCURRENCY: CONCURRENCY,
    ...overrides,
  };
}

async function cleanQueues(p: Prepared): Promise<void> {
  await p.queues.get('send').obliterate({ force: true });
}

/** Drops what a campaign left: its partition, parts, contact history (before any mirror pass reads it), its row and targeting table. */
async function retire(p: Prepared, id: string): Promise<void> {
  const { db, warehouse } = p.container;
  await dropLedgerPartition(db, id);
  await db.deleteFrom('message_parts').where('campaign_id', '=', id).execute();
  await db.deleteFrom('contact_history').where('campaign_id', '=', id).execute();
  const row = await db.selectFrom('campaigns').select(['targeting_run_id', 'status']).where('id', '=', id).executeTakeFirst();
  await db.deleteFrom('campaigns').where('id', '=', id).execute();
  if (row?.targeting_run_id) await warehouse.write((c) => c.run(`DROP TABLE IF EXISTS ${targetingTable(row.targeting_run_id!)}`));
  p.live.delete(id);
}

async function retireAll(p: Prepared): Promise<void> {
  await cleanQueues(p);
  for (const id of [...p.live]) await retire(p, id);
  await p.container.db.deleteFrom('frequency_caps').execute();
}

interface Draft {
  id: string;
  service: CampaignService;
}

/** A targeted campaign on every customer, through the service; `enqueue: false` launches without adding jobs. */
async function draft(p: Prepared, options: { gateway: string; batchSize: number; enqueue: boolean }): Promise<Draft> {
  const { container } = p;
  const dispatch = new SendDispatch({ db: container.db, queues: p.queues });
  const service = new CampaignService({
    db: container.db,
    catalog: container.catalog,
    config: sendConfig(p, { SEND_BATCH_SIZE: options.batchSize }),
    segments: container.segments,
    policies: container.policies,
    targeting: container.targeting,
    freezer: new LedgerFreezer({ warehouse: container.warehouse, databaseUrl: BENCH_DATABASE_URL, scratchDir: p.scratch }),
    dispatch: options.enqueue ? dispatch : { enqueueOwed: async () => 0, scheduleStart: async () => undefined },
    profiles: new CampaignProfiles(container.warehouse),
    gateways: container.gateways,
  });
  const created = await service.create(
    {
      name: `bench send ${randomUUID().slice(0, 8)}`,
      category: 'bench',
      productId: null,
      class: CLASS,
      segmentId: p.segmentId,
      exclusionPolicy: POLICY,
      channel: 'sms',
      message: MESSAGE,
      schedule: {},
      throttle: {},
      controlGroupPercent: 0,
      gateway: options.gateway,
    },
    actor,
  );
  p.live.add(created.id);
  await service.target(created.id, actor);
  return { id: created.id, service };
}

/** Launches (untimed) and leaves only the first `limit` recipients queued, then queues their jobs. */
async function launched(p: Prepared, options: { gateway: string; batchSize: number; limit?: number }): Promise<{ id: string; owed: number }> {
  const d = await draft(p, { ...options, enqueue: false });
  const view = await d.service.launch(d.id, undefined, actor);
  const { db } = p.container;
  if (options.limit !== undefined) {
    await sql.raw(`UPDATE ${ledgerPartition(d.id)} SET status = 'cancelled' WHERE seq >= ${options.limit} AND status = 'queued'`).execute(db);
  }
  const owed = options.limit === undefined ? (view.progress?.queued ?? 0) : Math.min(options.limit, view.progress?.queued ?? 0);
  const dispatch = new SendDispatch({ db, queues: p.queues });
  await dispatch.enqueueOwed({ id: d.id, batch_size: options.batchSize });
  await p.container.db.deleteFrom('frequency_caps').execute();
  return { id: d.id, owed };
}

/** Runs send workers until the campaign's queued rows are all gone; returns rows that left `queued`. */
async function drain(p: Prepared, id: string, gateways: GatewaySource, config: Config, expected: number): Promise<number> {
  const workers = await startSendWorkers({ config, logger: p.container.logger, db: p.container.db, queues: p.queues, gateways, lists: p.container.lists });
  const queue = p.queues.get('send');
  try {
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).every((n) => n === 0)) break;
      await sleep(50);
    }
  } finally {
    await workers.close();
  }
  const scan = await scanLedger(p.container.db, id);
  const c = scan.counts;
  const done = c.submitted + c.suppressed + c.capped + c.failed + c.unknown;
  if (done !== expected || c.queued > 0 || c.sending > 0 || c.unknown > 0 || c.failed > 0) {
    throw new Error(`${done} of ${expected} messages done; ledger ${JSON.stringify(c)}`);
  }
  return done;
}

function cases(ctx: BenchContext): BenchCase[] {
  const size = ctx.sizes.includes(1_000_000) ? 1_000_000 : Math.min(...ctx.sizes);
  const label = sizeLabel(size);
  const out: BenchCase[] = [];
  let current: string | undefined;
  let rows = 0;
  const launchOp = `launch ${label} recipients: CampaignService.launch (DuckDB → CSV → COPY FREEZE, status, ${BATCH}-recipient jobs)`;
  const copyOp = `raw COPY FREEZE of the same ledger rows into a new table`;
  const dispatchOp = `dispatch ${label} ${CLASS} to an accept-all gateway, throttle off (batch ${BATCH}, chunk ${CHUNK}, concurrency ${CONCURRENCY})`;
  const ceilingOp = `ledger ceiling: claim + record statements alone (chunk ${CHUNK}, ${CONCURRENCY} at once)`;
  const perMessageOp = `one BullMQ job per message, same BatchSender work (${CLASS}, ${BASELINE_MESSAGES / 1000}k msgs, concurrency ${BASELINE_CONCURRENCY})`;
  const smppOp = `dispatch ${SMPP_MESSAGES / 1000}k through the SMPP simulator on loopback (window ${SMPP_WINDOW}, batch ${BATCH}, chunk ${CHUNK})`;
  const throttleOp = `throttle ${THROTTLE_RATE}/s across 2 worker processes, ${THROTTLE_SECONDS} s window (rows/s = measured rate)`;

  if (CASES.has('launch')) {
    let pending: Draft | undefined;
    out.push({
      operation: launchOp,
      size,
      runs: LAUNCH_RUNS,
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        pending = await draft(p, { gateway: GATEWAYS.accept, batchSize: BATCH, enqueue: true });
      },
      async run() {
        const view = await pending!.service.launch(pending!.id, undefined, actor);
        current = pending!.id;
        rows = view.progress?.total ?? 0;
        return rows;
      },
    });
    let csv = '';
    out.push({
      operation: copyOp,
      size,
      baseline: launchOp,
      async prepare() {
        if (!current) throw new Error('the launch case must run first');
        csv = path.join(ctx.scratch('send-copy'), 'ledger.csv');
        const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
        await client.connect();
        try {
          await client.query('DROP TABLE IF EXISTS bench_send_copy');
          await pipeline(
            client.query(copyTo(`COPY (SELECT campaign_id, seq, customer_id, msisdn, is_control, status, vars FROM ${ledgerPartition(current)}) TO STDOUT WITH (FORMAT csv)`)),
            createWriteStream(csv),
          );
        } finally {
          await client.end();
        }
      },
      async run() {
        const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
        await client.connect();
        try {
          await client.query('BEGIN');
          await client.query('CREATE TABLE bench_send_copy (LIKE message_ledger INCLUDING ALL) WITH (fillfactor = 70)');
          await pipeline(
            createReadStream(csv),
            client.query(copyFrom('COPY bench_send_copy (campaign_id, seq, customer_id, msisdn, is_control, status, vars) FROM STDIN WITH (FORMAT csv, FREEZE)')),
          );
          await client.query('COMMIT');
          await client.query('DROP TABLE bench_send_copy');
        } finally {
          await client.end();
        }
        return rows;
      },
    });
  }

  if (CASES.has('dispatch')) {
    out.push({
      operation: dispatchOp,
      size,
      runs: 1,
      ...(CASES.has('per-message') ? { baseline: perMessageOp } : {}),
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        const l = await launched(p, { gateway: GATEWAYS.accept, batchSize: BATCH });
        current = l.id;
        rows = l.owed;
      },
      async run() {
        const p = await prepare(ctx, size);
        return drain(p, current!, unthrottled(new AcceptAllGateway()), sendConfig(p), rows);
      },
    });
  }

  if (CASES.has('ceiling')) {
    out.push({
      operation: ceilingOp,
      size,
      runs: 1,
      ...(CASES.has('dispatch') ? { baseline: dispatchOp } : {}),
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        const l = await launched(p, { gateway: GATEWAYS.accept, batchSize: BATCH });
        await cleanQueues(p);
        current = l.id;
        rows = l.owed;
      },
      async run() {
        const p = await prepare(ctx, size);
        const id = current!;
        let next = 0;
        let done = 0;
        let claimedRows = 0;
        const lane = async () => {
          for (;;) {
            const from = next;
            next += CHUNK;
            if (from >= rows) return;
            const claimed = await claimRange(p.container.db, id, from, from + CHUNK);
            claimedRows += claimed.length;
            // Not `done += await …`: that reads `done` before the await and loses the other lanes' counts.
            const recorded = await recordOutcomes(p.container.db, id, claimed.map((m) => ({ seq: m.seq, status: 'submitted' as const, parts: 1 })));
            done += recorded;
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, lane));
        if (done !== rows) {
          const scan = await scanLedger(p.container.db, id);
          throw new Error(`claimed ${claimedRows}, recorded ${done} of ${rows}; ledger ${JSON.stringify(scan.counts)}`);
        }
        return done;
      },
    });
  }

  if (CASES.has('per-message')) {
    out.push({
      operation: perMessageOp,
      size,
      runs: 1,
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        const l = await launched(p, { gateway: GATEWAYS.accept, batchSize: 1, limit: BASELINE_MESSAGES });
        current = l.id;
        rows = l.owed;
      },
      async run() {
        const p = await prepare(ctx, size);
        // The reconciler's periodic re-enqueue of every owed batch would cost this design a
        // 50k-job addBulk every 2 s: off, in the baseline's favour.
        const config = sendConfig(p, { SEND_BATCH_SIZE: 1, SEND_CHUNK_SIZE: 1, SEND_CONCURRENCY: BASELINE_CONCURRENCY, RECONCILE_INTERVAL_MS: 600_000 });
        return drain(p, current!, unthrottled(new AcceptAllGateway()), config, rows);
      },
    });
  }

  if (CASES.has('smpp')) {
    let gateway: SmppGateway | undefined;
    out.push({
      operation: smppOp,
      size,
      runs: 1,
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        const l = await launched(p, { gateway: GATEWAYS.smpp, batchSize: BATCH, limit: SMPP_MESSAGES });
        current = l.id;
        rows = l.owed;
        gateway = new SmppGateway({ name: GATEWAYS.smpp, config: smppSettings(p.simulator.port, SMPP_WINDOW) as never, logger: p.container.logger });
        for (let i = 0; gateway.status().status !== 'connected'; i++) {
          if (i > 100) throw new Error('the SMPP gateway did not bind to the simulator');
          await sleep(50);
        }
      },
      async run() {
        const p = await prepare(ctx, size);
        const before = await p.simulator.count();
        try {
          const done = await drain(p, current!, unthrottled(gateway!), sendConfig(p), rows);
          const after = await p.simulator.count();
          ctx.log(`send: the simulator accepted ${after.accepted - before.accepted} submit_sm for ${done} messages`);
          return done;
        } finally {
          await gateway!.close();
        }
      },
    });
  }

  if (CASES.has('throttle')) {
    out.push({
      operation: throttleOp,
      size,
      runs: 1,
      // Untimed: the launch, two worker processes started and past their first grants.
      async prepare() {
        const p = await prepare(ctx, size);
        await retireAll(p);
        // Enough for the warm-up and the window at the configured rate, no more.
        const l = await launched(p, { gateway: GATEWAYS.throttle, batchSize: BATCH, limit: THROTTLE_RATE * (THROTTLE_SECONDS + 30) });
        current = l.id;
        await cleanQueues(p);
        workerProcesses.push(startWorkerProcess(ctx), startWorkerProcess(ctx));
        await Promise.all(workerProcesses.map((w) => w.ready));
        await new SendDispatch({ db: p.container.db, queues: p.queues }).enqueueOwed({ id: current, batch_size: BATCH });
        for (let i = 0; ; i++) {
          const c = await p.simulator.count();
          if (c.bound >= 2 && c.accepted >= THROTTLE_RATE) break;
          if (i > 600) throw new Error(`no steady sending 30 s after the launch: ${JSON.stringify(c)}`);
          await sleep(50);
        }
        await sleep(2000);
      },
      // Timed: the window alone, so the table's rows/s is the measured rate.
      async run() {
        const p = await prepare(ctx, size);
        const first = await p.simulator.count();
        const perSecond: number[] = [];
        let last = first;
        for (let s = 0; s < THROTTLE_SECONDS; s++) {
          await sleep(Math.max(0, first.at + (s + 1) * 1000 - Date.now()));
          const c = await p.simulator.count();
          perSecond.push(c.accepted - last.accepted);
          last = c;
        }
        const sent = last.accepted - first.accepted;
        const seconds = (last.at - first.at) / 1000;
        const rate = sent / seconds;
        const deviation = (rate / THROTTLE_RATE - 1) * 100;
        ctx.log(
          `send: throttle ${THROTTLE_RATE}/s over ${seconds.toFixed(2)} s with ${last.bound} binds: ${sent} submit_sm accepted = ${rate.toFixed(1)}/s ` +
            `(${deviation >= 0 ? '+' : ''}${deviation.toFixed(2)} %, ${Math.abs(deviation) <= 5 ? 'within' : 'OUTSIDE'} ±5 %); per second min ${Math.min(...perSecond)}, max ${Math.max(...perSecond)}`,
        );
        // The worker processes stop in the teardown, untimed.
        return sent;
      },
    });
  }
  return out;
}

const workerProcesses: Array<{ ready: Promise<void>; stop(): Promise<void> }> = [];

async function stopWorkerProcesses(): Promise<void> {
  await Promise.all(workerProcesses.splice(0).map((w) => w.stop()));
}

/** `node --import tsx src/worker.ts` on the bench database and this suite's queue prefix. */
function startWorkerProcess(ctx: BenchContext): { ready: Promise<void>; stop(): Promise<void> } {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      DATABASE_URL: BENCH_DATABASE_URL,
      QUEUE_PREFIX: PREFIX,
      LOG_LEVEL: 'info',
      SEND_WINDOW: '00:00-24:00',
      GATEWAY_SIMULATOR: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString();
      if (output.includes('worker ready')) resolve();
      if (output.length > 100_000) output = output.slice(-10_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code}: ${output.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(12_000)]);
      if (child.exitCode === null) {
        ctx.log(`send: worker ${child.pid} did not stop on SIGTERM; killing it`);
        child.kill('SIGKILL');
      }
      if (/"level":(50|60)/.test(output)) ctx.log(`send: worker ${child.pid} logged errors: ${output.slice(-1500)}`);
    },
  };
}

export const bench: BenchSuite = {
  name: 'send',
  cases,
  async teardown(ctx) {
    await stopWorkerProcesses();
    if (!prepared) return;
    const p = await prepared;
    await retireAll(p).catch((error: unknown) => ctx.log(`send: cleanup failed: ${String(error)}`));
    for (const queue of p.queues.all()) await queue.obliterate({ force: true }).catch(() => undefined);
    await p.queues.close();
    await p.container.db.deleteFrom('gateways').where('name', 'in', Object.values(GATEWAYS)).execute();
    await p.container.segments.delete(p.segmentId, actor).catch((error: unknown) => ctx.log(`send: segment not deleted: ${String(error)}`));
    await p.simulator.stop();
    prepared = undefined;
  },
};
