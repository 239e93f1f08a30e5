import type { Container } from '../src/container.js';
import type { Condition } from '../src/conditions/condition.schemas.js';
import { SqlParams } from '../src/conditions/params.js';
import type { PreparedCondition } from '../src/conditions/condition.service.js';
import { bitmapFunnel } from '../src/exclusions/funnel.bitmaps.js';
import { compileFirstRemovingStep } from '../src/exclusions/funnel.js';
import { localDate } from '../src/exclusions/targeting.service.js';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { BitmapSegmentEngine } from '../src/segments/bitmaps/bitmap.engine.js';
import { BitmapIndex } from '../src/segments/bitmaps/bitmap.index.js';
import { BitmapWarmer } from '../src/segments/bitmaps/bitmap.warmer.js';
import { SegmentEngine, type PreviewRequest } from '../src/segments/segment.engine.js';
import { DEFAULT_BREAKDOWN, BREAKDOWN_TOP_VALUES } from '../src/segments/segment.service.js';
import { segmentMembersTable } from '../src/warehouse/tables.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';

/**
 * The bitmap engine (src/segments/bitmaps) beside the SQL engine on the same warehouse and the same
 * conditions as bench/segments.bench.ts: cold (an empty cache), with one leaf changed since the
 * last preview, set operations of two half segments, the default funnel, and 8 previews at once.
 * Every bitmap count is checked against the SQL engine's. Memory of the bitmaps is logged.
 */

const actor = { ...SYSTEM_ACTOR, name: 'bench' };
const EXCLUDED_LISTS = ['blacklist', 'complaint', 'dnd'] as const;
const CITIES = ['广州', '深圳', '佛山', '东莞'];
const fields = (arpu: number): Condition[] => [
  { field: 'status', op: 'eq', value: 'active' },
  { field: 'age', op: 'between', value: [25, 55] },
  { field: 'arpu', op: 'gte', value: arpu },
  { field: 'brand', op: 'in', value: ['gotone', 'easyown'] },
  { field: 'is_5g_device', op: 'eq', value: true },
  { field: 'tenure_months', op: 'gte', value: 12 },
  { field: 'city', op: 'in', value: CITIES },
];
const NO_ACTIVE_5G_PLAN: Condition = {
  not: { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } },
};
const HEAVY_DATA_3M: Condition = { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gt', value: 6000 } };
const NOT_ON_LISTS: Condition[] = EXCLUDED_LISTS.map((list) => ({ not: { list } }));
const realistic = (arpu = 50): Condition => ({ all: [...fields(arpu), NO_ACTIVE_5G_PLAN, HEAVY_DATA_3M, ...NOT_ON_LISTS] });
const withoutAggregate = (arpu = 50): Condition => ({ all: [...fields(arpu), NO_ACTIVE_5G_PLAN, ...NOT_ON_LISTS] });
const HALF_A: Condition = { field: 'brand', op: 'eq', value: 'easyown' };
const HALF_B: Condition = { field: 'data_mb', op: 'gte', value: 8000 };

const REQUEST: PreviewRequest = { breakdown: DEFAULT_BREAKDOWN, sampleSize: 10, sampleColumns: [], topValues: BREAKDOWN_TOP_VALUES };

interface Prepared {
  container: Container;
  halves: { a: string; b: string };
  /** The engine of the timed runs; `cold` cases replace it before each run. */
  engine: BitmapSegmentEngine;
  index: BitmapIndex;
  warmer: BitmapWarmer;
  asOf: Date;
}

const prepared = new Map<number, Promise<Prepared>>();
const counts = new Map<string, number>();

/** An index with nothing in it, as after a restart, with its own warmer (not started: the bench calls it). */
function fresh(container: Container): { index: BitmapIndex; engine: BitmapSegmentEngine; warmer: BitmapWarmer } {
  const index = new BitmapIndex(container.warehouse, container.config.BITMAP_CACHE_MB * 1024 ** 2, { catalog: container.catalog, windowMonths: container.config.USAGE_WINDOW_MONTHS });
  const engine = new BitmapSegmentEngine(index, { preview: () => Promise.reject(new Error('the bench expects no SQL fallback')) });
  const warmer = new BitmapWarmer({
    index,
    engine,
    prepare: (condition) => container.conditions.prepare(condition, 'condition', { role: 'admin' }),
    breakdown: DEFAULT_BREAKDOWN,
    logger: container.logger,
  });
  return { index, engine, warmer };
}

/**
 * The index as the warmer keeps it after an import: lists, segments, breakdown values and the
 * columns previews use, built ahead; no leaf of the condition to preview cached.
 */
async function warmIndex(p: Prepared, condition: Condition): Promise<void> {
  Object.assign(p, fresh(p.container));
  await bitmapPreview(p, condition, undefined);
  await p.warmer.warm();
  p.index.forgetConditionLeaves();
}

function prepare(ctx: BenchContext, size: number): Promise<Prepared> {
  let p = prepared.get(size);
  if (!p) {
    p = (async () => {
      const container = await ctx.quanke(size);
      REQUEST.sampleColumns = container.catalog.dataset('customers')!.columns.map((c) => c.name);
      await container.mirror.sync();
      const a = await container.segments.create({ name: `bitmap bench half A ${sizeLabel(size)}`, condition: HALF_A }, actor);
      const b = await container.segments.create({ name: `bitmap bench half B ${sizeLabel(size)}`, condition: HALF_B }, actor);
      return { container, halves: { a: a.id, b: b.id }, asOf: new Date(), ...fresh(container) };
    })();
    prepared.set(size, p);
  }
  return p;
}

/** Prepare (the condition service) + the bitmap preview: what the segment service does in bitmap mode. */
async function bitmapPreview(p: Prepared, condition: Condition, key: string | undefined): Promise<number> {
  const c = await p.container.conditions.prepare(condition, 'condition', { role: 'admin' });
  if (c.lists.length > 0) await p.container.mirror.sync();
  const { count } = await p.engine.preview(c, REQUEST);
  if (key) check(key, count);
  return count;
}

/** The SQL engine itself (the service answers with the bitmap engine, the default). */
async function sqlPreview(p: Prepared, condition: Condition, key: string): Promise<number> {
  const c = await p.container.conditions.prepare(condition, 'condition', { role: 'admin' });
  if (c.lists.length > 0) await p.container.mirror.sync();
  const { count } = await new SegmentEngine(p.container.warehouse).preview(c, REQUEST);
  check(key, count);
  return count;
}

function check(key: string, count: number): void {
  const seen = counts.get(key);
  if (seen === undefined) counts.set(key, count);
  else if (seen !== count) throw new Error(`${key}: the bitmap and SQL engines disagree (${seen} vs ${count})`);
}

function logMemory(ctx: BenchContext, p: Prepared, size: number, label: string): void {
  const m = p.index.memory();
  ctx.log(
    `bitmap ${sizeLabel(size)} ${label}: cache ${(m.cachedBytes / 1024 ** 2).toFixed(1)} MiB in ${m.entries} entries (hits ${m.hits}, misses ${m.misses}); CRoaring holds ${(m.roaringBytes / 1024 ** 2).toFixed(1)} MiB; process RSS ${(process.memoryUsage().rss / 1024 ** 2).toFixed(0)} MiB`,
  );
}

function cases(ctx: BenchContext): BenchCase[] {
  const out: BenchCase[] = [];
  for (const size of ctx.sizes) {
    const label = sizeLabel(size);
    const sqlFull = 'sql preview (7 fields + exists + aggregate + 3 lists, count + city/brand + sample)';
    const sqlNoAgg = 'sql preview without the aggregate';
    let arpu = 50;
    /** A condition's bitmap preview cold, and with one leaf (the arpu threshold) changed since the last one. */
    const coldAndChanged = (c: { cold: string; changed: string; baseline: string; coldMs: number; condition: (arpu?: number) => Condition; key: string }): BenchCase[] => [
      {
        operation: c.cold,
        size,
        baseline: c.baseline,
        target: size >= 10_000_000 ? { ms: c.coldMs } : undefined,
        async prepare() {
          const p = await prepare(ctx, size);
          if (!p.index.columnsInUse().length) await warmIndex(p, c.condition());
          await p.index.idle();
          p.index.forgetConditionLeaves();
        },
        async run() {
          await bitmapPreview(await prepare(ctx, size), c.condition(), `${label} ${c.key} 50`);
          return size;
        },
      },
      {
        operation: c.changed,
        size,
        baseline: c.baseline,
        target: size >= 10_000_000 ? { ms: 20 } : undefined,
        async prepare() {
          const p = await prepare(ctx, size);
          await bitmapPreview(p, c.condition(arpu), `${label} ${c.key} ${arpu}`);
          // The analyst reads the answer before changing a leaf: what the engine computes after answering is done.
          await p.index.idle();
          arpu += 1;
        },
        async run() {
          await bitmapPreview(await prepare(ctx, size), c.condition(arpu), `${label} ${c.key} ${arpu}`);
          return size;
        },
      },
    ];
    out.push(
      {
        operation: sqlFull,
        size,
        // The first run after opening reads the file cold; three runs, so the median is a warm one.
        runs: 3,
        async run() {
          await sqlPreview(await prepare(ctx, size), realistic(), `${label} full 50`);
          return size;
        },
      },
      {
        operation: 'bitmap preview, first after a restart (nothing warm: the preview loads columns, lists and value bitmaps itself)',
        size,
        baseline: sqlFull,
        runs: 1,
        async prepare() {
          const p = await prepare(ctx, size);
          Object.assign(p, fresh(p.container));
        },
        async run() {
          await bitmapPreview(await prepare(ctx, size), realistic(), `${label} full 50`);
          return size;
        },
      },
      ...coldAndChanged({
        cold: 'bitmap preview, cold (no leaf of it cached; lists, segments, breakdown values and columns warm, as the warmer keeps them)',
        changed: 'bitmap preview, one leaf changed since the last preview (arpu threshold)',
        baseline: sqlFull,
        coldMs: 150,
        condition: realistic,
        key: 'full',
      }),
      {
        operation: sqlNoAgg,
        size,
        runs: 3,
        async run() {
          await sqlPreview(await prepare(ctx, size), withoutAggregate(), `${label} noagg 50`);
          return size;
        },
      },
      ...coldAndChanged({
        cold: 'bitmap preview without the aggregate, cold',
        changed: 'bitmap preview without the aggregate, one leaf changed',
        baseline: sqlNoAgg,
        coldMs: 100,
        condition: withoutAggregate,
        key: 'noagg',
      }),
    );

    const setOps: Array<[string, (a: string, b: string) => Condition]> = [
      ['union', (a, b) => ({ any: [{ segment: a }, { segment: b }] })],
      ['intersect', (a, b) => ({ all: [{ segment: a }, { segment: b }] })],
      ['minus', (a, b) => ({ all: [{ segment: a }, { not: { segment: b } }] })],
    ];
    for (const [name, condition] of setOps) {
      const sqlOp = `sql preview: ${name} of two half segments`;
      out.push(
        {
          operation: sqlOp,
          size,
          runs: 3,
          async run() {
            const p = await prepare(ctx, size);
            await sqlPreview(p, condition(p.halves.a, p.halves.b), `${label} ${name}`);
            return size;
          },
        },
        {
          operation: `bitmap preview: ${name} of two half segments (segment bitmaps kept by the warmer)`,
          size,
          baseline: sqlOp,
          target: size >= 10_000_000 ? { ms: 100 } : undefined,
          async prepare() {
            const p = await prepare(ctx, size);
            await bitmapPreview(p, condition(p.halves.a, p.halves.b), `${label} ${name}`);
          },
          async run() {
            const p = await prepare(ctx, size);
            await bitmapPreview(p, condition(p.halves.a, p.halves.b), `${label} ${name}`);
            return size;
          },
        },
      );
    }

    const sqlFunnel = 'sql funnel statement: default policy (9 steps) over half segment A';
    const funnelInputs = async (p: Prepared) => {
      const policy = await p.container.policies.get('default');
      const conditions = new Map<number, PreparedCondition>();
      for (const [i, step] of policy.steps.entries()) {
        if (step.type === 'condition') conditions.set(i, await p.container.conditions.prepare(step.condition, `steps[${i}].condition`, { role: 'admin' }));
      }
      // One instant for both engines: recent contact and list expiry are judged at it.
      const asOf = p.asOf;
      return { steps: policy.steps, ctx: { asOf, today: localDate(asOf), productId: 'P5G', category: '5g', conditions } };
    };
    out.push(
      {
        operation: sqlFunnel,
        size,
        runs: 3,
        async run() {
          const p = await prepare(ctx, size);
          const { steps, ctx: stepCtx } = await funnelInputs(p);
          const params = new SqlParams();
          const compiled = compileFirstRemovingStep(steps, stepCtx, params);
          const rows = await p.container.warehouse.query<{ step: number; n: number }>(
            `SELECT coalesce(r.step, 0) AS step, count(*) AS n FROM ${segmentMembersTable(p.halves.a)} m LEFT JOIN (${compiled.sql}) r ON r.customer_id = m.customer_id GROUP BY ALL`,
            params.values,
          );
          check(`${label} funnel kept`, rows.find((r) => Number(r.step) === 0)?.n ?? 0);
          return size;
        },
      },
      {
        operation: 'bitmap funnel: default policy, steps as bitmap differences',
        size,
        baseline: sqlFunnel,
        target: size >= 10_000_000 ? { ms: 500 } : undefined,
        async run() {
          const p = await prepare(ctx, size);
          const { steps, ctx: stepCtx } = await funnelInputs(p);
          const funnel = (await bitmapFunnel(p.index, p.halves.a, steps, stepCtx))!;
          check(`${label} funnel kept`, funnel.kept);
          return size;
        },
      },
    );

    const concurrent = 8;
    const latencies: number[] = [];
    out.push({
      operation: `bitmap: ${concurrent} different previews at once (time until the last is answered)`,
      size,
      runs: 3,
      target: size >= 10_000_000 ? { ms: 1000, of: 'p95' } : undefined,
      async prepare() {
        await (await prepare(ctx, size)).index.idle();
      },
      async run() {
        const p = await prepare(ctx, size);
        const base = 60 + latencies.length;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: concurrent }, async (_, i) => {
            const t = performance.now();
            const condition = i % 2 === 0 ? realistic(base + i) : withoutAggregate(base + i);
            const c = await p.container.conditions.prepare(condition, 'condition', { role: 'admin' });
            await p.engine.preview(c, REQUEST);
            latencies.push(performance.now() - t);
          }),
        );
        const sorted = [...latencies].sort((a, b) => a - b);
        ctx.log(`bitmap ${label}: ${concurrent} at once, ${(performance.now() - started).toFixed(0)} ms; per preview p95 ${sorted[Math.ceil(sorted.length * 0.95) - 1]!.toFixed(0)} ms`);
        logMemory(ctx, p, size, 'at the end');
        return size;
      },
    });
  }
  return out;
}

export const bench: BenchSuite = {
  name: 'bitmap',
  cases,
  async teardown() {
    for (const p of prepared.values()) {
      const { container, halves } = await p.catch(() => ({ container: undefined, halves: undefined }) as never);
      if (!container || !halves) continue;
      for (const id of [halves.a, halves.b]) await container.segments.delete(id, actor).catch(() => undefined);
    }
    prepared.clear();
  },
};
