import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ColumnType } from '../../src/catalog/catalog.js';
import { compileMembersQuery } from '../../src/conditions/compile.js';
import type { Condition } from '../../src/conditions/condition.schemas.js';
import { ConditionService, type PreparedCondition } from '../../src/conditions/condition.service.js';
import { duckdbDialect, type Dialect } from '../../src/conditions/dialect.js';
import { citusDialect, postgresDialect } from '../../src/conditions/dialect.postgres.js';
import { SqlParams } from '../../src/conditions/params.js';
import { controlRank, controlRanksSql, drawControlGroup, seedKey } from '../../src/exclusions/control-draw.js';
import { compileFirstRemovingStep, contactSince, type StepContext } from '../../src/exclusions/funnel.js';
import type { PolicyStep } from '../../src/exclusions/policy.schemas.js';
import { PostgresSegmentEngine } from '../../src/segments/segment.engine.postgres.js';
import { SegmentEngine, type PreviewCounts } from '../../src/segments/segment.engine.js';
import { previewQuery, readPreviewRows } from '../../src/segments/preview.query.js';
import { rebuildDerivedTables } from '../../src/warehouse/derive.js';
import { CONDITION_TABLES, copyWarehouseToPostgres, tunePostgresSession } from '../../src/warehouse/postgres.copy.js';
import { segmentMembersTable } from '../../src/warehouse/tables.js';
import { ConditionOracle, type OracleRow } from '../helpers/condition-oracle.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { TEST_DATABASE_URL } from '../helpers/env.js';
import { loadSample } from '../helpers/sample.js';

/*
 * One corpus of conditions, evaluated on DuckDB and on Postgres (the same data copied across,
 * the same compiler, each engine's dialect) and by the plain-JS oracle. Data: the 2,000-customer
 * sample, plus lists (one entry expired), a segment (with an id no customer has and a NULL),
 * contact history, and related rows without a customer. Answers compared are member ids; previews
 * compare counts and breakdowns; the funnel compares every customer's first removing step; the
 * control draw compares the drawn ids with each other and with the hash computed in JS.
 */

const NOW = new Date('2026-11-20T08:00:00Z');
const TODAY = '2026-11-20';
const SEGMENT = randomUUID();
const ADMIN = { role: 'admin' } as const;

let ctx: TestContext;
let client: pg.Client;
const schema = `corpus_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
let pgEngine: PostgresSegmentEngine;
let oracle: ConditionOracle;
/** Compiles windows within the profile's pivot to its columns. */
let pivot: ConditionService;
/** No pivoted months: every aggregate reads usage_monthly. */
let fallback: ConditionService;
const rules = new Map<string, Condition>();
let segmentMembers: number[] = [];
let listRows: Array<{ list_name: string; customer_id: number; msisdn: string; expires_at: string | null }> = [];
let contactRows: Array<{ customer_id: number; category: string | null; sent_at: string }> = [];
let customers: OracleRow[] = [];
let related: Record<string, OracleRow[]> = {};

function service(windowMonths: number): ConditionService {
  return new ConditionService({
    catalog: ctx.container.catalog,
    config: { USAGE_WINDOW_MONTHS: windowMonths, CONDITION_MAX_DEPTH: 12, CONDITION_MAX_NODES: 500 },
    rules: { getCondition: async (name) => rules.get(name) },
    segments: { status: async (id) => (id === SEGMENT ? 'ready' : undefined) },
    lists: { exists: async (name) => ['blacklist', 'greylist', 'vip', 'complaint'].includes(name) },
    now: () => NOW,
  });
}

async function duckdbMembers(prepared: PreparedCondition): Promise<number[]> {
  const { sql, params } = compileMembersQuery(prepared);
  const rows = await ctx.container.warehouse.query<{ customer_id: number }>(`${sql} ORDER BY 1`, params);
  return rows.map((r) => r.customer_id);
}

/** A dataset's rows with DATE columns as 'YYYY-MM-DD' text, the oracle's convention. */
async function rowsOf(dataset: string): Promise<OracleRow[]> {
  const columns = ctx.container.catalog.dataset(dataset)!.columns;
  const list = columns.map((c) => (c.type === 'date' ? `CAST("${c.name}" AS VARCHAR) AS "${c.name}"` : `"${c.name}"`)).join(', ');
  return ctx.container.warehouse.query<OracleRow>(`SELECT ${list} FROM "${dataset}"`);
}

beforeAll(async () => {
  ctx = await createTestContext();
  await loadSample(ctx);
  pivot = service(ctx.config.USAGE_WINDOW_MONTHS);
  fallback = service(0);
  const ids = (await ctx.container.warehouse.query<{ customer_id: number; msisdn: string }>('SELECT customer_id, msisdn FROM customers ORDER BY 1'));
  segmentMembers = ids.filter((r) => r.customer_id % 7 === 0).map((r) => r.customer_id);
  const at = (days: number) => new Date(NOW.getTime() + days * 86_400_000).toISOString();
  listRows = ids.flatMap((r) => {
    const out: typeof listRows = [];
    if (r.customer_id % 11 === 0) out.push({ list_name: 'blacklist', customer_id: r.customer_id, msisdn: r.msisdn, expires_at: null });
    // greylist: half expired a day ago, half expiring tomorrow.
    if (r.customer_id % 13 === 0) out.push({ list_name: 'greylist', customer_id: r.customer_id, msisdn: r.msisdn, expires_at: at(r.customer_id % 2 === 0 ? -1 : 1) });
    if (r.customer_id % 17 === 0) out.push({ list_name: 'vip', customer_id: r.customer_id, msisdn: r.msisdn, expires_at: null });
    return out;
  });
  contactRows = ids
    .filter((r) => r.customer_id % 5 === 0)
    .map((r) => ({ customer_id: r.customer_id, category: r.customer_id % 10 === 0 ? '5g' : null, sent_at: at(-(r.customer_id % 40)) }));
  await ctx.container.warehouse.transaction(async (c) => {
    for (const l of listRows) {
      await c.run('INSERT INTO list_members VALUES ($1, $2, $3, CAST($4 AS TIMESTAMPTZ))', [l.list_name, l.msisdn, l.customer_id, l.expires_at]);
    }
    for (const [i, h] of contactRows.entries()) {
      await c.run('INSERT INTO contact_history VALUES ($1, $2, $3, $4, CAST($5 AS TIMESTAMPTZ))', [i + 1, h.customer_id, 'corpus', h.category, h.sent_at]);
    }
    // Rows without a customer must not turn `not exists` into "nobody".
    await c.run(`INSERT INTO subscriptions VALUES (NULL, 'P5G', NULL, NULL)`);
    await c.run(`INSERT INTO tags VALUES (NULL, 'student')`);
    await c.run(`CREATE TABLE ${segmentMembersTable(SEGMENT)} (customer_id BIGINT)`);
    await c.run(`INSERT INTO ${segmentMembersTable(SEGMENT)} SELECT customer_id FROM customers WHERE customer_id % 7 = 0 UNION ALL SELECT 999999999 UNION ALL SELECT NULL`);
    await rebuildDerivedTables(c, ctx.container.catalog, ctx.config.USAGE_WINDOW_MONTHS);
  });

  client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  await copyWarehouseToPostgres(ctx.container.warehouse, client, { schema, tables: [...CONDITION_TABLES, segmentMembersTable(SEGMENT).slice(1, -1)] });
  await tunePostgresSession(client, schema);
  pgEngine = new PostgresSegmentEngine(client);

  customers = await rowsOf('customers');
  related = { subscriptions: await rowsOf('subscriptions'), tags: await rowsOf('tags'), usage_monthly: await rowsOf('usage_monthly') };
  rules.set('adults', { field: 'age', op: 'gte', value: 18 });
  rules.set('gd-adults', { all: [{ rule: 'adults' }, { field: 'city', op: 'in', value: ['广州', '深圳'] }] });
  rules.set('gd-adults-clean', { all: [{ rule: 'gd-adults' }, { not: { list: 'blacklist' } }, { not: { segment: SEGMENT } }] });
  oracle = new ConditionOracle({
    customers,
    related,
    listMembers: listRows,
    segments: new Map([[SEGMENT, new Set(segmentMembers)]]),
    rules,
    now: NOW,
  });
}, 240_000);

afterAll(async () => {
  await client?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await client?.end();
  await ctx?.close();
});

// ---- the corpus, built from the data so every comparison has members on both sides ----

function values(field: string): unknown[] {
  return customers.map((c) => c[field]).filter((v) => v !== null && v !== undefined);
}
function sortedNumbers(field: string): number[] {
  return (values(field) as number[]).slice().sort((a, b) => a - b);
}
const quantile = (xs: number[], q: number) => xs[Math.floor((xs.length - 1) * q)]!;

function fieldCorpus(): Array<[string, Condition]> {
  const out: Array<[string, Condition]> = [];
  const add = (label: string, condition: Condition) => {
    out.push([label, condition], [`not ${label}`, { not: condition }]);
  };
  for (const column of ctx.container.catalog.dataset('customers')!.columns) {
    const f = column.name;
    const type: ColumnType = column.type;
    add(`${f} is_null`, { field: f, op: 'is_null' });
    add(`${f} not_null`, { field: f, op: 'not_null' });
    if (type === 'integer' || type === 'bigint' || type === 'decimal') {
      const xs = sortedNumbers(f);
      const mid = quantile(xs, 0.5);
      const lo = quantile(xs, 0.25);
      const hi = quantile(xs, 0.75);
      for (const op of ['eq', 'ne', 'lt', 'lte', 'gt', 'gte'] as const) add(`${f} ${op} ${mid}`, { field: f, op, value: mid });
      add(`${f} between`, { field: f, op: 'between', value: [lo, hi] });
      add(`${f} in`, { field: f, op: 'in', value: [lo, mid, hi, -1] });
      add(`${f} not_in`, { field: f, op: 'not_in', value: [lo, mid, hi] });
      if (type === 'decimal') add(`${f} gt with more digits than stored`, { field: f, op: 'gt', value: mid + 0.005 });
      // Beyond 64 values the set is bound as one list parameter.
      // Beyond 64 values the set is bound as one list parameter: whole numbers first, then fractions and wide ids.
      const bound = [...new Set(xs)].slice(0, 100);
      add(`${f} in (a bound list)`, { field: f, op: 'in', value: [Math.round(mid), ...bound, type === 'bigint' ? 2 ** 40 + 1 : type === 'integer' ? 2 ** 31 - 1 : 12345.675] });
    } else if (type === 'varchar') {
      const xs = (values(f) as string[]).slice().sort();
      const mid = quantile(xs as unknown as number[], 0.5) as unknown as string;
      for (const op of ['eq', 'ne', 'lt', 'gte'] as const) add(`${f} ${op}`, { field: f, op, value: mid });
      const free = column.values === undefined;
      add(`${f} in`, { field: f, op: 'in', value: free ? [mid, xs[0]!, "x' OR 1=1 --"] : [mid, xs[0]!] });
      add(`${f} not_in`, { field: f, op: 'not_in', value: [mid, xs[xs.length - 1]!] });
      add(`${f} starts_with`, { field: f, op: 'starts_with', value: mid.slice(0, Math.max(1, Math.ceil(mid.length / 3))) });
      add(`${f} contains`, { field: f, op: 'contains', value: mid.slice(1, 3) || mid });
      add(`${f} starts_with % is literal`, { field: f, op: 'starts_with', value: '%' });
      if (free) add(`${f} in (a bound list)`, { field: f, op: 'in', value: [...new Set(xs)].slice(0, 80) });
    } else if (type === 'boolean') {
      add(`${f} eq true`, { field: f, op: 'eq', value: true });
      add(`${f} eq false`, { field: f, op: 'eq', value: false });
      add(`${f} ne true`, { field: f, op: 'ne', value: true });
      add(`${f} in`, { field: f, op: 'in', value: [true] });
    } else if (type === 'date') {
      const xs = (values(f) as string[]).slice().sort();
      const mid = xs[Math.floor(xs.length / 2)]!;
      for (const op of ['eq', 'ne', 'lt', 'gte'] as const) add(`${f} ${op}`, { field: f, op, value: mid });
      add(`${f} between`, { field: f, op: 'between', value: [xs[Math.floor(xs.length / 4)]!, mid] });
      add(`${f} in`, { field: f, op: 'in', value: [mid, xs[0]!] });
    }
  }
  return out;
}

const ACTIVE_5G: Condition = { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } };
const HEAVY: Condition = { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gt', value: 4000.5 } };

function structureCorpus(): Array<[string, Condition]> {
  const age30: Condition = { field: 'age', op: 'gte', value: 30 };
  const gz: Condition = { field: 'city', op: 'eq', value: '广州' };
  const fiveG: Condition = { field: 'is_5g_device', op: 'eq', value: true };
  return [
    ['all', { all: [age30, gz, fiveG] }],
    ['any', { any: [age30, gz] }],
    ['not all (De Morgan over nulls)', { not: { all: [age30, gz] } }],
    ['any of nots', { any: [{ not: age30 }, { not: gz }] }],
    ['double negation', { not: { not: age30 } }],
    ['deep nesting', { any: [{ all: [age30, { not: { any: [gz, fiveG] } }] }, { all: [{ not: age30 }, fiveG, { any: [{ list: 'vip' }, { segment: SEGMENT }] }] }] }],
    ['exists any row', { exists: { dataset: 'subscriptions' } }],
    ['exists where all', ACTIVE_5G],
    ['not exists ignores rows without a customer', { not: ACTIVE_5G }],
    ['exists where with not and a date', { exists: { dataset: 'subscriptions', where: { not: { field: 'start_date', op: 'lt', value: '2026-01-01' } } } }],
    ['exists where any with ended', { exists: { dataset: 'subscriptions', where: { any: [{ field: 'end_date', op: 'not_null' }, { field: 'product_id', op: 'starts_with', value: 'PV' }] } } }],
    ['exists tags in', { exists: { dataset: 'tags', where: { field: 'tag', op: 'in', value: ['student', 'night_owl'] } } }],
    ['not exists tag', { not: { exists: { dataset: 'tags', where: { field: 'tag', op: 'eq', value: 'student' } } } }],
    ['exists usage in a month', { exists: { dataset: 'usage_monthly', where: { all: [{ field: 'month', op: 'eq', value: '2026-10-01' }, { field: 'data_mb', op: 'gt', value: 5000 }] } } }],
    ['list', { list: 'blacklist' }],
    ['list honours expiry', { list: 'greylist' }],
    ['not list', { not: { list: 'greylist' } }],
    ['empty list', { list: 'complaint' }],
    ['segment (ids outside the profile and NULL ignored)', { segment: SEGMENT }],
    ['not segment', { not: { segment: SEGMENT } }],
    ['segment minus list', { all: [{ segment: SEGMENT }, { not: { list: 'blacklist' } }] }],
    ['rule', { rule: 'gd-adults' }],
    ['nested rules with a list and a segment', { rule: 'gd-adults-clean' }],
    ['not of nested rules', { not: { rule: 'gd-adults-clean' } }],
    ['the bench realistic shape', {
      all: [
        { field: 'status', op: 'eq', value: 'active' }, { field: 'age', op: 'between', value: [25, 55] }, { field: 'arpu', op: 'gte', value: 50 },
        { field: 'brand', op: 'in', value: ['gotone', 'easyown'] }, { field: 'tenure_months', op: 'gte', value: 12 },
        { not: ACTIVE_5G }, HEAVY, { not: { list: 'blacklist' } }, { not: { list: 'greylist' } }, { not: { list: 'complaint' } },
      ],
    }],
  ];
}

function aggregateCorpus(): Array<[string, Condition]> {
  const out: Array<[string, Condition]> = [];
  const comparisons: Record<string, Array<[string, unknown]>> = {
    data_mb: [['gt', 4000.5], ['lte', 2500.5], ['between', [1000, 6000]], ['ne', 3000]],
    arpu: [['gt', 80.005], ['lt', 60.5], ['between', [50, 150]], ['not_in', [0, 100]]],
    sms_count: [['gte', 10], ['lt', 5.5], ['eq', 12], ['in', [0, 10, 11]]],
  };
  for (const fn of ['avg', 'sum', 'min', 'max', 'count'] as const) {
    for (const [field, comps] of Object.entries(comparisons)) {
      for (const lastMonths of [1, 3, 6, 12]) {
        for (const [op, value] of fn === 'count' ? ([['eq', 0], ['gte', 2], ['lt', 3], ['in', [0, 1]]] as Array<[string, unknown]>) : comps) {
          // avg and sum are compared in floating point: equality against them is left to the unit tests.
          if ((fn === 'avg' || fn === 'sum') && (op === 'eq' || op === 'ne' || op === 'in' || op === 'not_in')) continue;
          out.push([`${fn}(${field}) ${lastMonths}m ${op} ${JSON.stringify(value)}`, { aggregate: { dataset: 'usage_monthly', fn, field, lastMonths, op, value } } as Condition]);
        }
      }
    }
  }
  out.push(['sum of money, exact', { aggregate: { dataset: 'usage_monthly', fn: 'sum', field: 'arpu', lastMonths: 1, op: 'eq', value: related.usage_monthly!.find((u) => u.month === '2026-10-01' && u.arpu !== null)!.arpu as number } }]);
  return out;
}

async function compare(label: string, condition: Condition, via: ConditionService): Promise<number> {
  const prepared = await via.prepare(condition, 'condition', ADMIN);
  const want = oracle.members(condition);
  const duck = await duckdbMembers(prepared);
  const post = await pgEngine.members(prepared);
  expect(duck, `DuckDB: ${label}`).toEqual(want);
  expect(post, `Postgres: ${label}`).toEqual(want);
  return want.length;
}

describe('one corpus, two engines, one oracle', () => {
  it('every field operator on every customers column, and its complement', async () => {
    const corpus = fieldCorpus();
    let nonEmpty = 0;
    for (const [label, condition] of corpus) if ((await compare(label, condition, pivot)) > 0) nonEmpty++;
    expect(corpus.length).toBeGreaterThan(300);
    // The corpus is not vacuous: most comparisons select someone.
    expect(nonEmpty).toBeGreaterThan(corpus.length * 0.6);
  });

  it('all / any / not, exists with where, lists, segments and nested rules', async () => {
    for (const [label, condition] of structureCorpus()) await compare(label, condition, pivot);
    expect(oracle.members({ rule: 'gd-adults-clean' }).length).toBeGreaterThan(10);
  });

  it('aggregates over the window: on profile columns and on usage_monthly, every fn', async () => {
    const corpus = aggregateCorpus();
    for (const [label, condition] of corpus) {
      await compare(`pivot ${label}`, condition, pivot);
      await compare(`usage_monthly ${label}`, condition, fallback);
    }
    expect(corpus.length).toBeGreaterThan(150);
  });

  it('previews: the same count and breakdowns on both engines', async () => {
    const request = { breakdown: ['city', 'brand', 'status'], sampleSize: 5, sampleColumns: ['customer_id', 'city'], topValues: 100 };
    const normalised = (p: PreviewCounts) =>
      Object.fromEntries(Object.entries(p.breakdown).map(([k, v]) => [k, { otherCount: v.otherCount, values: [...v.values].sort((a, b) => String(a.value).localeCompare(String(b.value))) }]));
    for (const [label, condition] of structureCorpus()) {
      const prepared = await pivot.prepare(condition, 'condition', ADMIN);
      const duck = await new SegmentEngine(ctx.container.warehouse).preview(prepared, request);
      const post = await pgEngine.preview(prepared, request);
      // Without GROUPING SETS (Citus): one grouped query per breakdown, the same rows.
      const split = await new PostgresSegmentEngine(client, citusDialect).preview(prepared, request);
      const duckParams = new SqlParams({ ...duckdbDialect, groupingSets: false });
      const splitSql = previewQuery(prepared.predicate(duckParams, 'c'), request, duckParams);
      const splitDuck = readPreviewRows(await ctx.container.warehouse.query(splitSql, duckParams.values), request);
      expect(post.count, label).toBe(oracle.members(condition).length);
      expect(duck.count, label).toBe(post.count);
      expect(normalised(post), label).toEqual(normalised(duck));
      expect(split.count, label).toBe(post.count);
      expect(normalised(split), label).toEqual(normalised(post));
      expect(normalised({ ...splitDuck, sample: [] }), label).toEqual(normalised(post));
      expect(splitDuck.count, label).toBe(post.count);
      // Each engine picks its own sample; each sample holds only members.
      const members = new Set(oracle.members(condition));
      for (const row of [...duck.sample, ...post.sample]) expect(members.has(Number(row.customer_id)), label).toBe(true);
    }
  });
});

describe('the funnel and the control draw on both engines', () => {
  const steps: PolicyStep[] = [
    { type: 'list', list: 'blacklist' },
    { type: 'recentContact', days: 7, sameCategory: true },
    { type: 'recentContact', days: 30, sameCategory: false },
    { type: 'hasProduct' },
    { type: 'condition', condition: { any: [{ field: 'age', op: 'lt', value: 20 }, { not: { field: 'status', op: 'eq', value: 'active' } }] } },
    { type: 'list', list: 'greylist' },
  ];

  async function stepContext(): Promise<StepContext> {
    const condition = await pivot.prepare((steps[4] as { condition: unknown }).condition, 'condition', ADMIN);
    return { asOf: NOW, today: TODAY, productId: 'P5G', category: '5g', conditions: new Map([[4, condition]]) };
  }

  /** The first removing step per customer, worked out in JS from the rows the test wrote. */
  function expectedSteps(): Map<number, number> {
    const unexpired = (name: string) => new Set(listRows.filter((l) => l.list_name === name && (l.expires_at === null || new Date(l.expires_at) > NOW)).map((l) => l.customer_id));
    const since = (days: number) => contactSince(NOW, days).getTime();
    const contacted = (days: number, category?: string) =>
      new Set(contactRows.filter((h) => new Date(h.sent_at).getTime() >= since(days) && (!category || h.category === category)).map((h) => h.customer_id));
    const holding = new Set(
      related.subscriptions!.filter((s) => s.customer_id !== null && s.product_id === 'P5G' && (s.end_date === null || String(s.end_date) >= TODAY)).map((s) => Number(s.customer_id)),
    );
    const removing = [
      unexpired('blacklist'),
      contacted(7, '5g'),
      contacted(30),
      holding,
      new Set(oracle.members((steps[4] as { condition: Condition }).condition)),
      unexpired('greylist'),
    ];
    const first = new Map<number, number>();
    for (const id of oracle.ids) {
      const i = removing.findIndex((set) => set.has(id));
      if (i >= 0) first.set(id, i + 1);
    }
    return first;
  }

  it('the first removing step of every customer is the same on both engines and in JS', async () => {
    const context = await stepContext();
    const duckParams = new SqlParams();
    const duckSql = compileFirstRemovingStep(steps, context, duckParams).sql!;
    const pgParams = new SqlParams(postgresDialect);
    const pgSql = compileFirstRemovingStep(steps, context, pgParams).sql!;
    // Related rows without a customer (the NULL subscription) may appear as a NULL id; the run's join drops them.
    const duck = await ctx.container.warehouse.query<{ customer_id: number; step: number }>(`SELECT * FROM (${duckSql}) s WHERE customer_id IS NOT NULL ORDER BY 1`, duckParams.values);
    const post = (await client.query<{ customer_id: string; step: number }>(`SELECT * FROM (${pgSql}) s WHERE customer_id IS NOT NULL ORDER BY 1`, pgParams.values)).rows;
    const want = expectedSteps();
    expect(new Set(want.values()).size).toBe(steps.length);
    expect(new Map(duck.map((r) => [r.customer_id, Number(r.step)]))).toEqual(want);
    expect(new Map(post.map((r) => [Number(r.customer_id), Number(r.step)]))).toEqual(want);
  });

  it('the same seed draws the same control group on both engines, as the hash computed in JS says', async () => {
    const removed = expectedSteps();
    const rows = oracle.ids.map((id) => [id, removed.get(id) ?? 0] as const);
    const kept = rows.filter(([, step]) => step === 0).map(([id]) => id);
    await ctx.container.warehouse.write(async (c) => {
      await c.run('CREATE OR REPLACE TABLE corpus_draw (customer_id BIGINT, removed_by_step SMALLINT, is_control BOOLEAN)');
      await c.run(`INSERT INTO corpus_draw SELECT unnest($1::BIGINT[]), unnest($2::SMALLINT[]), FALSE`, [
        duckdbDialect.bind(rows.map(([id]) => id)),
        duckdbDialect.bind(rows.map(([, step]) => step)),
      ]);
    });
    await client.query('CREATE TABLE corpus_draw (customer_id BIGINT, removed_by_step SMALLINT, is_control BOOLEAN)');
    await client.query('INSERT INTO corpus_draw SELECT unnest($1::BIGINT[]), unnest($2::SMALLINT[]), FALSE', [rows.map(([id]) => id), rows.map(([, s]) => s)]);

    // 10 % takes the bounded path (candidates below a rank bound), 60 % the full sort.
    for (const [seed, share] of [['corpus-seed', 0.1], ['corpus-seed-2', 0.1], ['another', 0.6]] as const) {
      const control = Math.round(kept.length * share);
      const key = seedKey(seed);
      const want = [...kept].sort((a, b) => controlRank(a, key) - controlRank(b, key) || a - b).slice(0, control).sort((a, b) => a - b);

      await ctx.container.warehouse.write(async (c) => {
        await c.run('UPDATE corpus_draw SET is_control = FALSE');
        const run = async (sql: string, values: Parameters<typeof c.runAndReadAll>[1]) => Number((await c.runAndReadAll(sql, values)).getRowObjectsJS()[0]?.Count ?? 0);
        await drawControlGroup(run, duckdbDialect, 'corpus_draw', seed, control, kept.length);
      });
      await client.query('UPDATE corpus_draw SET is_control = FALSE');
      await drawControlGroup(async (sql, values) => (await client.query(sql, values)).rowCount ?? 0, postgresDialect, 'corpus_draw', seed, control, kept.length);

      const duck = (await ctx.container.warehouse.query<{ customer_id: number }>('SELECT customer_id FROM corpus_draw WHERE is_control ORDER BY 1')).map((r) => r.customer_id);
      const post = (await client.query<{ customer_id: string }>('SELECT customer_id FROM corpus_draw WHERE is_control ORDER BY 1')).rows.map((r) => Number(r.customer_id));
      expect(duck, seed).toEqual(want);
      expect(post, seed).toEqual(want);
    }
    // Different seeds draw different groups.
    const key1 = seedKey('corpus-seed');
    const key2 = seedKey('corpus-seed-2');
    const top = (key: number) => [...kept].sort((a, b) => controlRank(a, key) - controlRank(b, key) || a - b).slice(0, 50);
    expect(top(key1).filter((id) => top(key2).includes(id)).length).toBeLessThan(15);
  });

  it('the rank hash is exact for ids beyond 32 bits on both engines', async () => {
    const ids = [1, 2, 4294967295, 4294967296, 9007199254740991];
    const key = seedKey('wide');
    const want = ids.map((id) => controlRank(id, key));
    const source = '(SELECT unnest(CAST($2 AS BIGINT[])) AS customer_id)';
    const ranks = (dialect: Dialect<unknown>) => `SELECT customer_id, rank FROM (${controlRanksSql(dialect, source, 'CAST($1 AS BIGINT)')}) r ORDER BY customer_id`;
    const post = await client.query<{ rank: string }>(ranks(postgresDialect), [key, ids]);
    expect(post.rows.map((r) => Number(r.rank))).toEqual(want);
    const duck = await ctx.container.warehouse.query<{ rank: number }>(ranks(duckdbDialect as Dialect<unknown>), [key, duckdbDialect.bind(ids)]);
    expect(duck.map((r) => Number(r.rank))).toEqual(want);
  });
});
