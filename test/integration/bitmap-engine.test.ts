import { randomUUID } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../../src/conditions/condition.schemas.js';
import { compileMembersQuery } from '../../src/conditions/compile.js';
import { bitmapFunnel } from '../../src/exclusions/funnel.bitmaps.js';
import { localDate } from '../../src/exclusions/targeting.service.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import type { PreviewRequest } from '../../src/segments/segment.engine.js';
import { SAMPLE_DIR } from '../../src/warehouse/sample.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { loadSample } from '../helpers/sample.js';

/**
 * The bitmap engine against the SQL engine on the 2,000-customer sample: a seeded random corpus of
 * conditions (every operator, nulls, exists, aggregates, nested all/any/not, lists, segments),
 * previewed by both, before and after a customers import, a list change and a segment refresh.
 * The SQL engine is the oracle: the compiler tests check it against hand-worked answers.
 */

const actor = { ...SYSTEM_ACTOR, name: 'bitmap-test' };
let ctx: TestContext;
const lists = [`bm_a_${randomUUID().slice(0, 6)}`, `bm_b_${randomUUID().slice(0, 6)}`];
let segmentA: string;
let segmentB: string;
let customers: Array<Record<string, unknown>>;

const request = (breakdown = ['city', 'brand']): PreviewRequest => ({
  breakdown,
  sampleSize: 10,
  sampleColumns: ['customer_id', 'city', 'brand', 'join_date'],
  topValues: 5,
});

/** A tiny seeded generator (mulberry32), so a failing corpus can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function corpus(seed: number, size: number): Condition[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const value = (column: string) => pick(customers.map((c) => c[column]).filter((v) => v !== null && v !== undefined));
  const numeric = ['age', 'arpu', 'mou', 'data_mb', 'tenure_months', 'vip_level'];
  const text = ['city', 'county', 'brand', 'status', 'gender', 'plan_id', 'grid_id'];
  const field = (): Condition => {
    const roll = rnd();
    if (roll < 0.35) {
      const column = pick(numeric);
      const op = pick(['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'between', 'in', 'not_in', 'is_null', 'not_null'] as const);
      const v = Number(value(column));
      if (op === 'between') return { field: column, op, value: [Math.min(v, Number(value(column))), Math.max(v, Number(value(column)))] };
      if (op === 'in' || op === 'not_in') return { field: column, op, value: [v, Number(value(column)), Number(value(column))] };
      if (op === 'is_null' || op === 'not_null') return { field: column, op };
      return { field: column, op, value: v };
    }
    if (roll < 0.75) {
      const column = pick(text);
      const op = pick(['eq', 'ne', 'in', 'not_in', 'starts_with', 'contains', 'is_null'] as const);
      const v = String(value(column));
      if (op === 'in' || op === 'not_in') return { field: column, op, value: [v, String(value(column))] };
      if (op === 'starts_with' || op === 'contains') return { field: column, op, value: v.slice(0, 1) };
      if (op === 'is_null') return { field: column, op };
      return { field: column, op, value: v };
    }
    if (roll < 0.85) return { field: 'is_5g_device', op: pick(['eq', 'ne'] as const), value: rnd() < 0.5 };
    return { field: 'join_date', op: pick(['lt', 'gte'] as const), value: new Date(value('join_date') as Date).toISOString().slice(0, 10) };
  };
  const leaf = (): Condition => {
    const roll = rnd();
    if (roll < 0.55) return field();
    if (roll < 0.65) {
      return { exists: { dataset: 'subscriptions', where: rnd() < 0.7 ? { field: 'product_id', op: 'eq', value: pick(['P5G', 'PMUSIC', 'PROAM', 'PVIDEO']) } : undefined } } as Condition;
    }
    if (roll < 0.77) {
      return {
        aggregate: { dataset: 'usage_monthly', fn: pick(['avg', 'sum', 'min', 'max', 'count'] as const), field: 'data_mb', lastMonths: pick([1, 3, 6, 9]), op: 'gt', value: Math.floor(rnd() * 6000) },
      };
    }
    if (roll < 0.88) return { list: pick(lists) };
    return { segment: pick([segmentA, segmentB]) };
  };
  const node = (depth: number): Condition => {
    if (depth >= 3 || rnd() < 0.35) return leaf();
    const roll = rnd();
    const children = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => node(depth + 1));
    if (roll < 0.45) return { all: children };
    if (roll < 0.8) return { any: children };
    return { not: node(depth + 1) };
  };
  return Array.from({ length: size }, () => node(0));
}

async function members(condition: Condition): Promise<Set<number>> {
  const prepared = await ctx.container.conditions.prepare(condition, 'condition', { role: 'admin' });
  const { sql, params } = compileMembersQuery(prepared);
  return new Set((await ctx.container.warehouse.query<{ customer_id: number }>(sql, params)).map((r) => r.customer_id));
}

/** Both engines on the same condition: count and breakdown equal, every sampled customer a member. */
async function compare(condition: Condition, breakdown?: string[]): Promise<number> {
  const prepared = await ctx.container.conditions.prepare(condition, 'condition', { role: 'admin' });
  await ctx.container.mirror.sync();
  const [sql, bitmap] = [
    await ctx.container.segments.preview({ condition, breakdown, sampleSize: 10 }, actor),
    await ctx.container.bitmaps.engine.preview(prepared, request(breakdown)),
  ];
  const label = JSON.stringify(condition);
  expect(bitmap.count, label).toBe(sql.count);
  const shaped: Record<string, Record<string, number>> = {};
  for (const [column, { values, otherCount }] of Object.entries(bitmap.breakdown)) {
    shaped[column] = Object.fromEntries(values.map((v) => [v.value ?? '(null)', v.count]));
    if (otherCount > 0) shaped[column]['(other)'] = otherCount;
  }
  // The service shows the top 100 values; the bitmap request asked for 5: compare the top 5.
  for (const [column, counts] of Object.entries(sql.breakdown)) {
    const top = Object.entries(counts).filter(([k]) => k !== '(other)').slice(0, 5);
    expect(Object.entries(shaped[column]!).filter(([k]) => k !== '(other)'), `${label} ${column}`).toEqual(top);
  }
  const expected = await members(condition);
  expect(expected.size, label).toBe(sql.count);
  expect(bitmap.sample.length, label).toBe(Math.min(10, sql.count));
  for (const row of bitmap.sample) expect(expected.has(Number(row.customer_id)), label).toBe(true);
  return sql.count;
}

beforeAll(async () => {
  // The service previews through SQL, the oracle; the bitmap engine is driven directly.
  ctx = await createTestContext({ SEGMENT_ENGINE: 'sql' });
  await loadSample(ctx);
  customers = await ctx.container.warehouse.query('SELECT * FROM customers ORDER BY customer_id');
  for (const [i, name] of lists.entries()) {
    await ctx.container.lists.create({ name, label: `bitmap test ${i}` }, actor);
    const numbers = customers.filter((_, k) => k % (7 + i * 4) === i).map((c) => String(c.msisdn));
    await ctx.container.lists.addEntries(name, numbers, { reason: 'test', source: 'api' }, actor);
  }
  segmentA = (await ctx.container.segments.create({ name: 'bm A', condition: { field: 'brand', op: 'eq', value: 'easyown' } }, actor)).id;
  segmentB = (await ctx.container.segments.create({ name: 'bm B', condition: { field: 'age', op: 'gte', value: 40 } }, actor)).id;
}, 180_000);

afterAll(async () => {
  await ctx?.close();
});

describe('bitmap previews equal SQL previews', () => {
  it('on a random corpus of 120 conditions (seed 16)', async () => {
    const counts = [];
    for (const condition of corpus(16, 120)) counts.push(await compare(condition));
    // The corpus is not degenerate: it has empty, full and in-between answers.
    expect(counts.some((n) => n === 0)).toBe(true);
    expect(counts.some((n) => n > 0 && n < customers.length)).toBe(true);
  }, 300_000);

  it('set operations of two segments, and breakdowns over other columns', async () => {
    await compare({ any: [{ segment: segmentA }, { segment: segmentB }] }, ['county', 'gender', 'is_5g_device', 'vip_level']);
    await compare({ all: [{ segment: segmentA }, { segment: segmentB }] });
    await compare({ all: [{ segment: segmentA }, { not: { segment: segmentB } }] }, []);
    await compare({ not: { segment: segmentA } }, ['join_date']);
  });

  it('one threshold moved again and again (the kept part and its gathered values cached), also across a list change', async () => {
    const slider = (arpu: number, age: number): Condition => ({
      all: [{ field: 'city', op: 'in', value: ['广州', '深圳'] }, { not: { list: lists[1]! } }, { field: 'arpu', op: 'gte', value: arpu }, { not: { field: 'age', op: 'lt', value: age } }],
    });
    for (const arpu of [20, 35, 50, 65, 80]) await compare(slider(arpu, 30));
    await ctx.container.bitmaps.index.idle();
    for (const age of [25, 40, 55]) await compare(slider(50, age));
    await ctx.container.lists.addEntries(lists[1]!, customers.slice(300, 500).map((c) => String(c.msisdn)), { reason: 'slider', source: 'api' }, actor);
    for (const arpu of [50, 60]) await compare(slider(arpu, 40));
  }, 120_000);

  it('after a list change, a customers import and a segment refresh', async () => {
    const probe: Condition = { all: [{ segment: segmentB }, { not: { list: lists[0]! } }, { field: 'city', op: 'ne', value: '深圳' }] };
    await compare(probe);
    // A list change: the cached list bitmap must not be reused.
    await ctx.container.lists.addEntries(lists[0]!, customers.slice(0, 300).map((c) => String(c.msisdn)), { reason: 'more', source: 'api' }, actor);
    await compare(probe);
    await ctx.container.lists.removeEntry(lists[0]!, String(customers[0]!.msisdn), actor);
    await compare(probe);

    // A customers import that drops 200 customers and moves others to another city.
    const lines = readFileSync(path.join(SAMPLE_DIR, 'customers.csv'), 'utf8').trimEnd().split('\n');
    const header = lines[0]!;
    const changed = lines.slice(201).map((line, i) => (i % 5 === 0 ? line.replace('深圳', '广州') : line));
    const file = path.join(ctx.dir, 'customers.csv');
    writeFileSync(file, `${[header, ...changed].join('\n')}\n`);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, actor);
    customers = await ctx.container.warehouse.query('SELECT * FROM customers ORDER BY customer_id');
    // The segment still holds its old members (some no longer customers) until refreshed.
    await compare(probe);
    await compare({ segment: segmentA });
    await ctx.container.segments.refresh(segmentB, actor);
    await compare(probe);
    for (const condition of corpus(17, 30)) await compare(condition);

    // Back to the sample: every answer moves again.
    copyFileSync(path.join(SAMPLE_DIR, 'customers.csv'), file);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, actor);
    customers = await ctx.container.warehouse.query('SELECT * FROM customers ORDER BY customer_id');
    await compare(probe);
  }, 300_000);

  it('a list entry that expires between two previews stops matching', async () => {
    const name = lists[1]!;
    const fresh = customers.filter((_, k) => k % 11 === 5).slice(0, 20).map((c) => String(c.msisdn));
    await ctx.container.lists.addEntries(name, fresh, { reason: 'short', source: 'api', expiresAt: new Date(Date.now() + 1500) }, actor);
    const before = await compare({ list: name });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const after = await compare({ list: name });
    expect(after).toBeLessThan(before);
  });

  it('the default funnel as bitmap differences equals the targeting run, step by step', async () => {
    for (const [productId, category] of [['P5G', '5g'], [null, null]] as const) {
      const run = await ctx.container.targeting.run({ segmentId: segmentB, policy: 'default', productId, category, controlGroupPercent: 0, seed: 'bm' }, actor);
      const policy = await ctx.container.policies.get('default');
      const conditions = await ctx.container.policies.prepareConditions(policy, 'admin');
      const asOf = new Date(run.asOf);
      const stepContext = { asOf, today: localDate(asOf), productId, category, conditions };
      // As the targeting service calls it (condition steps through the engine), and with the defaults.
      const funnel = (await bitmapFunnel(ctx.container.bitmaps.index, segmentB, policy.steps, stepContext, {
        members: (session, condition) => ctx.container.bitmaps.engine.members(session, condition),
      }))!;
      expect(funnel).toBeDefined();
      const plain = (await bitmapFunnel(ctx.container.bitmaps.index, segmentB, policy.steps, stepContext))!;
      expect([plain.segmentCount, [...plain.removedByStep], plain.kept]).toEqual([funnel.segmentCount, [...funnel.removedByStep], funnel.kept]);
      const [first, ...steps] = run.funnel;
      expect(funnel.segmentCount).toBe(first!.remaining);
      for (const entry of steps) {
        if (!('index' in entry)) continue;
        expect(funnel.removedByStep.get(entry.index) ?? 0, entry.step).toBe(entry.removed);
      }
      expect(funnel.kept).toBe(run.target + run.control);
    }
  });
});
