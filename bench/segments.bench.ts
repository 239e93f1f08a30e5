import type { Container } from '../src/container.js';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { BREAKDOWN_TOP_VALUES, DEFAULT_BREAKDOWN, NULL_KEY, OTHER_KEY } from '../src/segments/segment.service.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';

/**
 * Segment previews, materialisation and set operations on the bench warehouse. The realistic
 * previews are also run on Postgres doing the same work: Quanke's own preview statement through
 * the Postgres dialect, over a copy of the same precomputed profile, lists and subscriptions,
 * indexed and analysed, on a session tuned for analytics (bench/pg-baseline.ts). Counts and
 * breakdowns are compared between the two engines on every size, so a fast wrong answer cannot
 * pass for a result.
 */

const actor = { ...SYSTEM_ACTOR, name: 'bench' };
/** The three lists the realistic condition excludes. */
const EXCLUDED_LISTS = ['blacklist', 'complaint', 'dnd'] as const;
const CITIES = ['广州', '深圳', '佛山', '东莞'];

const FIELDS = [
  { field: 'status', op: 'eq', value: 'active' },
  { field: 'age', op: 'between', value: [25, 55] },
  { field: 'arpu', op: 'gte', value: 50 },
  { field: 'brand', op: 'in', value: ['gotone', 'easyown'] },
  { field: 'is_5g_device', op: 'eq', value: true },
  { field: 'tenure_months', op: 'gte', value: 12 },
  { field: 'city', op: 'in', value: CITIES },
];
const NO_ACTIVE_5G_PLAN = {
  not: { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } },
};
const HEAVY_DATA_3M = { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gt', value: 6000 } };
const NOT_ON_LISTS = EXCLUDED_LISTS.map((list) => ({ not: { list } }));

/** 7 field conditions, one exists, one aggregate over the last 3 months, three list anti-joins. */
const REALISTIC = { all: [...FIELDS, NO_ACTIVE_5G_PLAN, HEAVY_DATA_3M, ...NOT_ON_LISTS] };
const REALISTIC_NO_AGGREGATE = { all: [...FIELDS, NO_ACTIVE_5G_PLAN, ...NOT_ON_LISTS] };

/** Two independent halves of the customers: about 5M members each at 10M. */
const HALF_A = { field: 'brand', op: 'eq', value: 'easyown' };
const HALF_B = { field: 'data_mb', op: 'gte', value: 8000 };

/** Per size: the bench lists in Postgres and mirrored into DuckDB, and the expected counts. */
interface Prepared {
  container: Container;
  halves: { a: string; b: string };
}

const prepared = new Map<number, Promise<Prepared>>();
/** Segments a case created and the next run (or the teardown) deletes. */
const leftovers = new Map<number, string>();

function prepare(ctx: BenchContext, size: number): Promise<Prepared> {
  let p = prepared.get(size);
  if (!p) {
    p = prepareSize(ctx, size);
    prepared.set(size, p);
  }
  return p;
}

/**
 * Loads the fixture's blacklist, complaint and dnd entries through the list service (once: the
 * bench database keeps them), mirrors them, and materialises the two half segments.
 */
async function prepareSize(ctx: BenchContext, size: number): Promise<Prepared> {
  const [container, fixture] = await Promise.all([ctx.quanke(size), ctx.fixtures(size)]);
  const { lists, warehouse, mirror, segments } = container;
  const counts = new Map((await lists.list()).map((l) => [l.name, l]));
  for (const list of EXCLUDED_LISTS) {
    const wanted = await warehouse.query<{ msisdn: string }>(
      `SELECT msisdn FROM read_csv($1, header = true, columns = {'list_name': 'VARCHAR', 'msisdn': 'VARCHAR', 'reason': 'VARCHAR', 'expires_at': 'VARCHAR'})
       WHERE list_name = $2 ORDER BY msisdn`,
      [fixture.listsFile, list],
    );
    const have = counts.get(list)?.entries ?? 0;
    if (have === wanted.length) continue;
    ctx.log(`segments ${sizeLabel(size)}: adding ${wanted.length} ${list} entries`);
    for (let i = 0; i < wanted.length; i += 50_000) {
      await lists.addEntries(list, wanted.slice(i, i + 50_000).map((r) => r.msisdn), { reason: 'bench', source: 'api' }, actor);
    }
  }
  await mirror.sync();
  const a = await segments.create({ name: `bench half A ${sizeLabel(size)}`, condition: HALF_A }, actor);
  const b = await segments.create({ name: `bench half B ${sizeLabel(size)}`, condition: HALF_B }, actor);
  ctx.log(`segments ${sizeLabel(size)}: halves of ${a.count} and ${b.count} members`);
  return { container, halves: { a: a.id, b: b.id } };
}

/** The preview the segment service asks its engine for (default breakdown, top values, every column in the sample). */
function previewRequest(container: Container) {
  return {
    breakdown: DEFAULT_BREAKDOWN,
    sampleSize: 10,
    sampleColumns: container.catalog.dataset('customers')!.columns.map((c) => c.name),
    topValues: BREAKDOWN_TOP_VALUES,
  };
}

/** A digest of what a preview answered: the count and every breakdown value (as the service shows them) with its count. */
function digest(count: number, breakdown: Record<string, Record<string, number>>): string {
  const values = Object.entries(breakdown).map(([column, counts]) => `${column}:${Object.entries(counts).map(([v, n]) => `${v}=${n}`).sort().join(',')}`);
  return `${count}|${values.sort().join('|')}`;
}

/** Previews report the customers they evaluated (rows/s is then scan throughput); answers are checked separately. */
async function previewDigest(p: Prepared, condition: unknown): Promise<string> {
  const preview = await p.container.segments.preview({ condition, sampleSize: 10 }, actor);
  return digest(preview.count, preview.breakdown);
}

/** The same preview on Postgres: Quanke's statement through the Postgres dialect. */
async function pgPreviewDigest(ctx: BenchContext, p: Prepared, size: number, condition: unknown): Promise<string> {
  const pg = await ctx.pg(size);
  const prepared = await p.container.conditions.prepare(condition, 'condition', { role: 'admin' });
  const preview = await pg.engine.preview(prepared, previewRequest(p.container));
  const shown = Object.fromEntries(
    Object.entries(preview.breakdown).map(([column, b]) => [
      column,
      Object.fromEntries([...b.values.map((v) => [v.value ?? NULL_KEY, v.count] as const), ...(b.otherCount > 0 ? [[OTHER_KEY, b.otherCount] as const] : [])]),
    ]),
  );
  return digest(preview.count, shown);
}

const checked = new Map<string, string>();

/** Both engines must agree on every answer they are compared on. */
function agree(key: string, answer: string): void {
  const seen = checked.get(key);
  if (seen === undefined) checked.set(key, answer);
  else if (seen !== answer) throw new Error(`${key}: DuckDB and Postgres disagree (${seen.slice(0, 200)} vs ${answer.slice(0, 200)})`);
}

function cases(ctx: BenchContext): BenchCase[] {
  const out: BenchCase[] = [];
  for (const size of ctx.sizes) {
    const label = sizeLabel(size);
    const pgFull = 'postgres, same work: Quanke\'s preview via the Postgres dialect (7 fields + exists + aggregate + 3 lists)';
    const pgNoAgg = 'postgres, same work: without the aggregate';
    out.push(
      {
        operation: pgFull,
        size,
        async prepare() {
          await prepare(ctx, size).then(() => ctx.pg(size));
        },
        async run() {
          agree(`${label} full`, await pgPreviewDigest(ctx, await prepare(ctx, size), size, REALISTIC));
          return size;
        },
      },
      {
        operation: 'segment preview (7 fields + exists + aggregate + 3 lists, count + city/brand + sample)',
        size,
        baseline: pgFull,
        async run() {
          agree(`${label} full`, await previewDigest(await prepare(ctx, size), REALISTIC));
          return size;
        },
      },
      {
        operation: pgNoAgg,
        size,
        async run() {
          agree(`${label} no aggregate`, await pgPreviewDigest(ctx, await prepare(ctx, size), size, REALISTIC_NO_AGGREGATE));
          return size;
        },
      },
      {
        operation: 'segment preview without the aggregate',
        size,
        baseline: pgNoAgg,
        async run() {
          agree(`${label} no aggregate`, await previewDigest(await prepare(ctx, size), REALISTIC_NO_AGGREGATE));
          return size;
        },
      },
    );

    out.push({
      operation: 'create segment: materialise ~half the customers (5M at 10M)',
      size,
      async prepare() {
        const p = await prepare(ctx, size);
        const previous = leftovers.get(size);
        if (previous) await p.container.segments.delete(previous, actor);
        leftovers.delete(size);
      },
      async run() {
        const p = await prepare(ctx, size);
        const segment = await p.container.segments.create({ name: `bench materialise ${label}`, condition: HALF_A }, actor);
        leftovers.set(size, segment.id);
        return segment.count ?? 0;
      },
    });

    out.push({
      operation: 'export a half segment as CSV (streamed pages, masked)',
      size,
      runs: 1,
      async run() {
        const p = await prepare(ctx, size);
        const exported = await p.container.segments.export(p.halves.a, { ...actor, role: 'analyst' });
        let lines = 0;
        for await (const chunk of exported.chunks) for (let i = chunk.indexOf('\n'); i !== -1; i = chunk.indexOf('\n', i + 1)) lines++;
        return lines - 1;
      },
    });

    const setOps: Array<[string, (a: string, b: string) => unknown]> = [
      ['union', (a, b) => ({ any: [{ segment: a }, { segment: b }] })],
      ['intersect', (a, b) => ({ all: [{ segment: a }, { segment: b }] })],
      ['minus', (a, b) => ({ all: [{ segment: a }, { not: { segment: b } }] })],
    ];
    for (const [name, condition] of setOps) {
      out.push({
        operation: `segment preview: ${name} of two half segments (count + city/brand + sample)`,
        size,
        async run() {
          const p = await prepare(ctx, size);
          await previewDigest(p, condition(p.halves.a, p.halves.b));
          return size;
        },
      });
    }
  }
  return out;
}

export const bench: BenchSuite = {
  name: 'segments',
  cases,
  async teardown() {
    for (const [size, p] of prepared) {
      const { container, halves } = await p.catch(() => ({ container: undefined, halves: undefined }) as never);
      if (!container || !halves) continue;
      const ids = [halves.a, halves.b, leftovers.get(size)].filter((id): id is string => id !== undefined);
      for (const id of ids) await container.segments.delete(id, actor).catch(() => undefined);
    }
    prepared.clear();
    leftovers.clear();
  },
};
