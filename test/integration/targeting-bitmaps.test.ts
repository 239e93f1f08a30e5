import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlParams } from '../../src/conditions/params.js';
import { insertContacts } from '../../src/exclusions/contact-history.repository.js';
import { compileFirstRemovingStep, controlGroupSize, type StepContext } from '../../src/exclusions/funnel.js';
import { bitmapFunnel } from '../../src/exclusions/funnel.bitmaps.js';
import { TargetingEngine, type Materialised } from '../../src/exclusions/targeting.engine.js';
import { localDate, TargetingService, type TargetingBitmaps, type TargetingRequest, type TargetingRunView } from '../../src/exclusions/targeting.service.js';
import { SAMPLE_DIR } from '../../src/warehouse/sample.js';
import { segmentMembersTable, targetingTable } from '../../src/warehouse/tables.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';
import { loadSample } from '../helpers/sample.js';

/**
 * Targeting with the funnel on the bitmap index (SEGMENT_ENGINE=bitmap) against targeting in SQL,
 * on the 2,000-customer sample with every step of the default policy removing someone: the same
 * funnel, the same run table customer by customer (first removing step and control flag), hence
 * the same control group for the same seed. Both services share the container's warehouse,
 * Postgres and clock; each records whether its run table came from bitmaps or the statement.
 */

const DAY = 86_400_000;
const operator = { name: 'targeting-bitmaps-test', role: 'operator' as const };

describe('targeting runs on bitmaps equal targeting runs in SQL', () => {
  let ctx: TestContext;
  let databaseUrl: string;
  let customers: Array<{ customer_id: number; msisdn: string }>;
  let segmentId: string;
  let clock: Date | undefined;
  let sqlRuns: TargetingService;
  let bitmapRuns: TargetingService;
  const sources: Array<Materialised['source']> = [];
  const customList = `tb_${randomUUID().replaceAll('-', '').slice(0, 8)}`;

  const rows = (id: string) =>
    ctx.container.warehouse.query<{ customer_id: number; removed_by_step: number; is_control: boolean }>(
      `SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(id)} ORDER BY customer_id`,
    );
  const numbers = (pick: (i: number) => boolean) => customers.filter((_, i) => pick(i)).map((c) => c.msisdn);

  function service(bitmaps?: TargetingBitmaps): TargetingService {
    const engine = new TargetingEngine(ctx.container.warehouse);
    const materialise = engine.materialise.bind(engine);
    engine.materialise = async (request) => {
      const made = await materialise(request);
      sources.push(made.source);
      return made;
    };
    const { db, policies, conditions, segments, mirror } = ctx.container;
    return new TargetingService({ db, engine, policies, conditions, segments, mirror, msisdnPattern: ctx.config.MSISDN_PATTERN, bitmaps, now: () => clock ?? new Date() });
  }

  /** The same request through both services at the same instant: everything the run decides must be equal. */
  async function compare(request: TargetingRequest): Promise<{ sql: TargetingRunView; bitmap: TargetingRunView }> {
    clock ??= new Date();
    const fixed = { ...request, seed: request.seed ?? 'same-seed' };
    sources.length = 0;
    const sql = await sqlRuns.run(fixed, operator);
    const bitmap = await bitmapRuns.run(fixed, operator);
    expect(sources).toEqual(['sql', 'bitmaps']);
    expect(bitmap.asOf).toBe(sql.asOf);
    expect(bitmap.funnel).toEqual(sql.funnel);
    expect({ control: bitmap.control, target: bitmap.target }).toEqual({ control: sql.control, target: sql.target });
    const [a, b] = [await rows(sql.id), await rows(bitmap.id)];
    expect(b.length).toBe(a.length);
    expect(b).toEqual(a);
    return { sql, bitmap };
  }

  /** Every step of a funnel that was evaluated removed someone, and someone is left: the comparison is not vacuous. */
  function expectEveryStepRemoves(run: TargetingRunView): void {
    for (const entry of run.funnel) {
      if ('index' in entry && !entry.skipped) expect(entry.removed, entry.step).toBeGreaterThan(0);
    }
    expect(run.target).toBeGreaterThan(0);
  }

  beforeAll(async () => {
    // The mirrors read every list entry and contact: a database of this file's own.
    databaseUrl = ownDatabaseUrl();
    ctx = await createTestContext({ DATABASE_URL: databaseUrl, SEGMENT_ENGINE: 'bitmap' });
    await loadSample(ctx);
    customers = await ctx.container.warehouse.query('SELECT customer_id, msisdn FROM customers ORDER BY customer_id');
    // Subscriptions to P5G that end today (still active) and yesterday (not): the step's date boundary.
    const today = localDate(new Date());
    const yesterday = localDate(new Date(Date.now() - DAY));
    const subscriptions = readFileSync(path.join(SAMPLE_DIR, 'subscriptions.csv'), 'utf8').trimEnd();
    const ending = customers.filter((_, i) => i % 10 === 4).map((c, k) => `${c.customer_id},P5G,2025-01-01,${k % 2 === 0 ? today : yesterday}`);
    writeFileSync(path.join(ctx.dir, 'subscriptions.csv'), `${[subscriptions, ...ending].join('\n')}\n`);
    await ctx.container.imports.importFile({ dataset: 'subscriptions', path: 'subscriptions.csv', format: 'csv', mode: 'replace' }, operator);
    const { lists, db } = ctx.container;
    // Overlapping lists (a customer on several counts at the first), and greylist entries that
    // have expired (as if added long ago: the list API refuses a past expiry).
    const entries: Array<[string, (i: number) => boolean]> = [
      ['blacklist', (i) => i % 23 === 0],
      ['complaint', (i) => i % 19 === 0],
      ['opt_out', (i) => i % 17 === 3],
      ['dnd', (i) => i % 13 === 5],
      ['greylist', (i) => i % 11 === 7],
    ];
    for (const [name, pick] of entries) await lists.addEntries(name, numbers(pick), { source: 'api', reason: 'test' }, operator);
    await db
      .updateTable('list_entries')
      .set({ expires_at: new Date(Date.now() - DAY) })
      .where('list_name', '=', 'greylist')
      .where('msisdn', 'in', numbers((i) => i % 22 === 7))
      .execute();
    await lists.create({ name: customList, label: 'targeting bitmaps test' }, operator);
    await lists.addEntries(customList, numbers((i) => i % 9 === 2), { source: 'upload' }, operator);
    const now = Date.now();
    await insertContacts(
      db,
      customers.flatMap((c, i) => [
        ...(i % 7 === 1 ? [{ customerId: c.customer_id, campaignId: 'tb-recent', category: 'other', sentAt: new Date(now - 3 * DAY) }] : []),
        ...(i % 6 === 2 ? [{ customerId: c.customer_id, campaignId: 'tb-5g', category: '5g', sentAt: new Date(now - 20 * DAY) }] : []),
        ...(i % 8 === 3 ? [{ customerId: c.customer_id, campaignId: 'tb-old', category: '5g', sentAt: new Date(now - 60 * DAY) }] : []),
      ]),
    );
    segmentId = (await ctx.container.segments.create({ name: 'tb adults', condition: { field: 'age', op: 'gte', value: 25 } }, operator)).id;
    sqlRuns = service();
    bitmapRuns = service(ctx.container.bitmaps);
  }, 180_000);

  afterAll(async () => {
    await ctx?.close();
    if (databaseUrl) await dropOwnDatabase(databaseUrl);
  });

  it('the default policy with a product and a category: every step removes someone', async () => {
    const { bitmap } = await compare({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'default-full' });
    expectEveryStepRemoves(bitmap);
    expect(bitmap.control).toBe(controlGroupSize(bitmap.control + bitmap.target, 10));
    // Again, now from cached segment and list bitmaps.
    await compare({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'default-full' });
  });

  it('the default policy without product and category (two steps skipped), and other seeds and percents', async () => {
    const { bitmap } = await compare({ segmentId, controlGroupPercent: 0 });
    expect(bitmap.funnel.filter((f) => 'skipped' in f && f.skipped)).toHaveLength(2);
    await compare({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 50, seed: 'half' });
    await compare({ segmentId, productId: 'PROAM', category: 'roaming', controlGroupPercent: 7.5, seed: 'other' });
  });

  it('a policy of condition (saved rules, lists, segments inside), upload and list steps in its own order', async () => {
    const elders = (await ctx.container.segments.create({ name: 'tb elders', condition: { field: 'age', op: 'gte', value: 60 } }, operator)).id;
    const policy = `tb-${randomUUID().slice(0, 8)}`;
    await ctx.container.policies.put(
      policy,
      {
        steps: [
          { type: 'condition', condition: { any: [{ field: 'vip_level', op: 'gte', value: 4 }, { segment: elders }] }, label: 'vip or elder' },
          { type: 'upload', listId: customList },
          { type: 'condition', condition: { all: [{ not: { rule: 'active-customers' } }, { not: { list: 'greylist' } }] }, label: 'inactive, not greylisted' },
          { type: 'list', list: 'blacklist' },
          { type: 'recentContact', days: 30, sameCategory: true },
          { type: 'hasProduct' },
          { type: 'condition', condition: { field: 'city', op: 'eq', value: '深圳' }, label: 'shenzhen' },
        ],
      },
      operator,
    );
    const { bitmap } = await compare({ segmentId, policy, productId: 'P5G', category: '5g', controlGroupPercent: 20, seed: 'custom' });
    expectEveryStepRemoves(bitmap);
  });

  it('judges lists at the run instant: an entry that expired between it and now still counts', async () => {
    await compare({ segmentId, controlGroupPercent: 0 }); // greylist's bitmap is cached at the real now
    const earlier = new Set(numbers((i) => i % 23 === 0 || i % 19 === 0 || i % 17 === 3 || i % 13 === 5));
    const lapsing = numbers((i) => i % 11 === 7 && i % 22 !== 7).filter((n) => !earlier.has(n)).slice(0, 5);
    await ctx.container.db
      .updateTable('list_entries')
      .set({ expires_at: new Date(Date.now() - 30 * 60_000), updated_at: new Date() })
      .where('list_name', '=', 'greylist')
      .where('msisdn', 'in', lapsing)
      .execute();
    await ctx.container.mirror.sync();
    const realNow = await compare({ segmentId, controlGroupPercent: 0 });
    clock = new Date(Date.now() - 60 * 60_000);
    try {
      const anHourAgo = await compare({ segmentId, controlGroupPercent: 0 });
      const greylist = (run: TargetingRunView) => run.funnel.find((f) => f.step === 'list:greylist') as { removed: number };
      // Not vacuous: an hour ago those entries had not expired, so the greylist removed more.
      expect(greylist(anHourAgo.bitmap).removed).toBeGreaterThan(greylist(realNow.bitmap).removed);
    } finally {
      clock = undefined;
    }
  });

  it('leaves out members who are no longer customers after a customers re-import', async () => {
    const lines = readFileSync(path.join(SAMPLE_DIR, 'customers.csv'), 'utf8').trimEnd().split('\n');
    writeFileSync(path.join(ctx.dir, 'customers.csv'), `${[lines[0]!, ...lines.slice(151)].join('\n')}\n`);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, operator);
    const { bitmap } = await compare({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'reimport' });
    const gone = new Set(customers.slice(0, 150).map((c) => c.customer_id));
    const members = await ctx.container.warehouse.query<{ customer_id: number }>(`SELECT customer_id FROM ${segmentMembersTable(segmentId)}`);
    expect(members.some((m) => gone.has(m.customer_id))).toBe(true);
    expect((await rows(bitmap.id)).some((r) => gone.has(r.customer_id))).toBe(false);
  });

  it('takes the statement when the profile or the segment changed after the bitmap funnel was computed', async () => {
    const policy = await ctx.container.policies.get('default');
    const conditions = await ctx.container.policies.prepareConditions(policy, 'admin');
    const asOf = new Date();
    const stepContext: StepContext = { asOf, today: localDate(asOf), productId: 'P5G', category: '5g', conditions };
    const engine = new TargetingEngine(ctx.container.warehouse);
    const materialise = async (change: () => Promise<unknown>) => {
      const funnel = (await bitmapFunnel(ctx.container.bitmaps.index, segmentId, policy.steps, stepContext))!;
      expect(funnel).toBeDefined();
      await change();
      const params = new SqlParams();
      const compiled = compileFirstRemovingStep(policy.steps, stepContext, params);
      const runId = randomUUID();
      const made = await engine.materialise({
        runId,
        membersTable: segmentMembersTable(segmentId),
        firstRemovingStepSql: compiled.sql,
        onlyCurrentCustomers: true,
        params: params.values,
        funnel: async () => funnel,
        seed: 'stale',
        controlSize: (kept) => controlGroupSize(kept, 5),
      });
      await engine.drop(runId);
      return made.source;
    };
    expect(await materialise(async () => undefined)).toBe('bitmaps');
    // A customers import rebuilds the profile: the funnel's row numbers name other customers.
    await ctx.container.imports.importFile({ dataset: 'customers', path: path.join(SAMPLE_DIR, 'customers.csv'), format: 'csv', mode: 'replace' }, operator, {
      trustedPath: true,
    });
    expect(await materialise(() => ctx.container.imports.importFile({ dataset: 'usage_monthly', path: path.join(SAMPLE_DIR, 'usage_monthly.csv'), format: 'csv', mode: 'replace' }, operator, { trustedPath: true }))).toBe('sql');
    expect(await materialise(() => ctx.container.segments.refresh(segmentId, operator))).toBe('sql');
    // And the service itself, after both, on bitmaps again.
    await compare({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'after' });
  });

  it('the container takes its funnel from bitmaps when SEGMENT_ENGINE=bitmap', async () => {
    const before = ctx.container.bitmaps.index.memory();
    clock = new Date();
    try {
      const run = await ctx.container.targeting.run({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'container' }, operator);
      const sql = await sqlRuns.run({ segmentId, productId: 'P5G', category: '5g', controlGroupPercent: 10, seed: 'container' }, operator);
      expect(run.funnel).toEqual(sql.funnel);
      expect(await rows(run.id)).toEqual(await rows(sql.id));
    } finally {
      clock = undefined;
    }
    const after = ctx.container.bitmaps.index.memory();
    expect(after.hits + after.misses).toBeGreaterThan(before.hits + before.misses);
  });
});
