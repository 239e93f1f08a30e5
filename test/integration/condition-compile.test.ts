import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Condition } from '../../src/conditions/condition.schemas.js';
import { ConditionService, type PreparedCondition } from '../../src/conditions/condition.service.js';
import { compileMembersQuery } from '../../src/conditions/compile.js';
import { SqlParams } from '../../src/conditions/params.js';
import { isAppError } from '../../src/http/errors.js';
import { rebuildDerivedTables } from '../../src/warehouse/derive.js';
import { segmentMembersTable } from '../../src/warehouse/tables.js';
import { ConditionOracle } from '../helpers/condition-oracle.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

/*
 * A hand-made warehouse of 12 customers. Expected member ids below are worked out by hand from these
 * rows; a small reference evaluator (plain JS over the same rows, written from DESIGN.md's semantics)
 * double-checks the systematic matrices.
 */
type Customer = {
  customer_id: number; msisdn: string; name: string | null; gender: string | null; age: number | null;
  city: string | null; brand: string | null; arpu: number | null; mou: number | null; data_mb: number | null;
  tenure_months: number | null; status: string | null; is_5g_device: boolean | null; vip_level: number | null;
  join_date: string | null; grid_id: string | null; plan_id: string | null;
};
const C = (
  customer_id: number, msisdn: string, name: string | null, gender: string | null, age: number | null, city: string | null,
  brand: string | null, arpu: number | null, mou: number | null, data_mb: number | null, tenure_months: number | null,
  status: string | null, is_5g_device: boolean | null, vip_level: number | null, join_date: string | null,
): Customer => ({
  customer_id, msisdn, name, gender, age, city, brand, arpu, mou, data_mb, tenure_months, status, is_5g_device, vip_level, join_date,
  grid_id: customer_id === 12 ? null : `G${String(customer_id).padStart(2, '0')}`,
  plan_id: customer_id === 12 ? null : [6, 9].includes(customer_id) ? 'P5G' : 'P1',
});
const INJECTION = "x' OR 1=1 --";
/** The compiler's semantics, personal columns included, as the role that sees them whole. */
const ADMIN = { role: 'admin' } as const;
const customers: Customer[] = [
  C(1, '13800000001', 'Li Wei', 'M', 25, 'Hangzhou', 'gotone', 120.5, 300, 2048, 24, 'active', true, 2, '2020-01-15'),
  C(2, '13800000002', 'Wang Fang', 'F', 34, 'Hangzhou', 'easyown', 45, 120, 512, 60, 'active', false, 0, '2016-03-01'),
  C(3, '13800000003', 'Zhang Min', 'F', null, 'Ningbo', 'mzone', 88.8, null, 10240, 3, 'active', true, 1, '2024-09-10'),
  C(4, '13800000004', null, 'M', 61, 'Ningbo', 'gotone', 210, 900, 100, 120, 'suspended', false, 5, '2010-06-30'),
  C(5, '13800000005', 'Chen Jie', 'M', 30, 'Wenzhou', 'easyown', null, 50, null, 12, 'active', null, 0, null),
  C(6, '13800000006', 'Liu Yang', 'F', 18, 'Hangzhou', 'mzone', 99.99, 10, 30000, 1, 'active', true, 0, '2025-10-01'),
  C(7, '13800000007', 'Huang Lei', 'M', 45, 'Hangzhou', 'gotone', 100, 600, 0, 200, 'closed', false, 3, '2008-02-29'),
  C(8, '13900000008', INJECTION, null, 30, null, 'gotone', 0.1, 0, 5, 0, 'active', false, null, '2025-11-01'),
  C(9, '13900000009', 'Zhao Lei', 'M', 72, 'Wenzhou', 'easyown', 300, 1500, 50, 240, 'active', true, 4, '2005-05-05'),
  C(10, '13900000010', 'Sun Li', 'F', 29, 'Shaoxing', 'mzone', 60, 200, 8000, 36, 'active', false, 0, '2022-12-31'),
  C(11, '13900000011', 'Qian Duo', 'F', 40, 'hangzhou', 'gotone', 150, 400, 3000, 48, 'active', true, 1, '2021-07-07'),
  C(12, '13900000012', 'Wu Kong', null, null, null, null, null, null, null, null, null, null, null, null),
];
const ALL_IDS = customers.map((c) => c.customer_id);

// Months present in usage_monthly, newest first: rank 1 = 2025-10, rank 4 = 2025-07.
const M = ['2025-10-01', '2025-09-01', '2025-08-01', '2025-07-01'];
type Usage = { customer_id: number; month: string; arpu: number | null; mou: number | null; data_mb: number | null; sms_count: number | null };
const U = (customer_id: number, rank: number, arpu: number | null, mou: number | null, data_mb: number | null, sms_count: number | null): Usage => ({
  customer_id, month: M[rank - 1]!, arpu, mou, data_mb, sms_count,
});
const usage: Usage[] = [
  U(1, 1, 100, 300, 1000, 10), U(1, 2, 110, 320, 2000, 12), U(1, 3, 120, 340, 3000, 14), U(1, 4, 130, 360, 4000, 16),
  U(2, 1, 50, 100, 600, 5), U(2, 2, 40, 90, 500, 5), U(2, 3, 45, 110, 400, 5),
  U(3, 1, 80, null, 12000, null), U(3, 3, 90, null, 9000, 3),
  U(4, 4, 200, 800, 100, 0),
  U(6, 1, 99.99, 10, 30000, 50),
  U(7, 1, null, null, null, null),
  U(8, 1, 0.1, 0, 5, 0), U(8, 2, 0.2, 0, 5, 0),
  U(9, 1, 300, 1500, 50, 1), U(9, 2, 300, 1400, 60, 1), U(9, 3, 300, 1600, 40, 1), U(9, 4, 300, 1500, 50, 1),
  U(10, 2, 60, 200, 8000, 20), U(10, 4, 55, 180, 7000, 25),
  U(11, 1, 150, 400, 3000, 30), U(11, 2, 150, 400, 3000, 30), U(11, 3, 150, 400, 3000, 30),
];
type Subscription = { customer_id: number | null; product_id: string; start_date: string | null; end_date: string | null };
const subscriptions: Subscription[] = [
  { customer_id: 1, product_id: 'P5G', start_date: '2025-01-01', end_date: null },
  { customer_id: 1, product_id: 'VIDEO10', start_date: '2024-05-01', end_date: '2024-12-31' },
  { customer_id: 3, product_id: 'VIDEO10', start_date: '2025-03-01', end_date: null },
  { customer_id: 6, product_id: 'P5G', start_date: '2025-10-01', end_date: '2025-10-15' },
  { customer_id: 9, product_id: 'FAMILY', start_date: '2020-01-01', end_date: null },
  { customer_id: 9, product_id: 'P5G', start_date: '2023-01-01', end_date: null },
  // A row without a customer: it must not turn `NOT exists` into "nobody".
  { customer_id: null, product_id: 'P5G', start_date: null, end_date: null },
];
const tags: Array<{ customer_id: number | null; tag: string }> = [
  { customer_id: 1, tag: 'video_heavy' }, { customer_id: 3, tag: 'video_heavy' }, { customer_id: 3, tag: 'student' },
  { customer_id: 6, tag: 'student' }, { customer_id: 9, tag: 'traveler' }, { customer_id: 11, tag: 'video_heavy' },
  { customer_id: null, tag: 'student' },
];
const NOW = new Date('2025-11-20T00:00:00Z');
const listMembers = [
  { list_name: 'blacklist', msisdn: '13800000002', customer_id: 2, expires_at: null },
  { list_name: 'greylist', msisdn: '13800000003', customer_id: 3, expires_at: '2025-11-01T00:00:00Z' },
  { list_name: 'greylist', msisdn: '13800000004', customer_id: 4, expires_at: '2026-01-01T00:00:00Z' },
  { list_name: 'vip', msisdn: '13900000009', customer_id: 9, expires_at: null },
];
const SEGMENT = randomUUID();
const SEGMENT_MEMBERS = [1, 2, 3, 4, 5];
const BUILDING_SEGMENT = randomUUID();

const savedRules = new Map<string, unknown>([
  ['adults', { field: 'age', op: 'gte', value: 18 }],
  ['hz-adults', { all: [{ rule: 'adults' }, { field: 'city', op: 'eq', value: 'Hangzhou' }] }],
  ['hz-adults-not-blacklisted', { all: [{ rule: 'hz-adults' }, { not: { list: 'blacklist' } }] }],
  ['loop-a', { any: [{ rule: 'loop-b' }, { field: 'age', op: 'gt', value: 1 }] }],
  ['loop-b', { all: [{ rule: 'loop-c' }] }],
  ['loop-c', { not: { rule: 'loop-a' } }],
  ['uses-missing', { rule: 'not-there' }],
  ['stale', { field: 'shoe_size', op: 'gt', value: 40 }],
]);

function service(windowMonths: number): ConditionService {
  return new ConditionService({
    catalog: ctx.container.catalog,
    config: { USAGE_WINDOW_MONTHS: windowMonths, CONDITION_MAX_DEPTH: 12, CONDITION_MAX_NODES: 500 },
    rules: { getCondition: async (name) => savedRules.get(name) },
    segments: { status: async (id) => (id === SEGMENT ? 'ready' : id === BUILDING_SEGMENT ? 'building' : undefined) },
    lists: { exists: async (name) => ['blacklist', 'greylist', 'vip', 'complaint'].includes(name) },
    now: () => NOW,
  });
}

let ctx: TestContext;
let pivot: ConditionService;
let fallback: ConditionService;

async function ids(prepared: PreparedCondition): Promise<number[]> {
  const { sql, params } = compileMembersQuery(prepared);
  const rows = await ctx.container.warehouse.query<{ customer_id: number }>(`${sql} ORDER BY 1`, params);
  return rows.map((r) => r.customer_id);
}
const members = async (condition: unknown, via = pivot) => ids(await via.prepare(condition, 'condition', ADMIN));
const complement = (xs: number[]) => ALL_IDS.filter((id) => !xs.includes(id));

beforeAll(async () => {
  ctx = await createTestContext();
  pivot = service(ctx.config.USAGE_WINDOW_MONTHS);
  // No pivoted months: every window aggregate takes the usage_monthly path.
  fallback = service(0);
  await ctx.container.warehouse.transaction(async (c) => {
    for (const r of customers) {
      await c.run(
        `INSERT INTO customer_profile (customer_id, msisdn, name, gender, age, city, county, grid_id, brand, plan_id, arpu, mou, data_mb,
           tenure_months, status, is_5g_device, vip_level, join_date)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, CAST($17 AS DATE))`,
        [r.customer_id, r.msisdn, r.name, r.gender, r.age, r.city, r.grid_id, r.brand, r.plan_id, r.arpu, r.mou, r.data_mb,
          r.tenure_months, r.status, r.is_5g_device, r.vip_level, r.join_date],
      );
    }
    for (const u of usage) {
      await c.run('INSERT INTO usage_monthly VALUES ($1, CAST($2 AS DATE), $3, $4, $5, $6)', [u.customer_id, u.month, u.arpu, u.mou, u.data_mb, u.sms_count]);
    }
    for (const s of subscriptions) {
      await c.run('INSERT INTO subscriptions VALUES ($1, $2, CAST($3 AS DATE), CAST($4 AS DATE))', [s.customer_id, s.product_id, s.start_date, s.end_date]);
    }
    for (const t of tags) await c.run('INSERT INTO tags VALUES ($1, $2)', [t.customer_id, t.tag]);
    for (const l of listMembers) {
      await c.run('INSERT INTO list_members VALUES ($1, $2, $3, CAST($4 AS TIMESTAMPTZ))', [l.list_name, l.msisdn, l.customer_id, l.expires_at]);
    }
    await c.run(`CREATE TABLE ${segmentMembersTable(SEGMENT)} (customer_id BIGINT)`);
    for (const id of SEGMENT_MEMBERS) await c.run(`INSERT INTO ${segmentMembersTable(SEGMENT)} VALUES ($1)`, [id]);
    await rebuildDerivedTables(c, ctx.container.catalog, ctx.config.USAGE_WINDOW_MONTHS);
  });
});
afterAll(async () => ctx?.close());

// ---- reference evaluator: DESIGN.md's semantics in plain JS over the rows above ----
const oracle = new ConditionOracle({
  customers,
  related: { usage_monthly: usage, subscriptions, tags },
  listMembers,
  segments: new Map([[SEGMENT, new Set(SEGMENT_MEMBERS)]]),
  rules: savedRules as Map<string, Condition>,
  now: NOW,
});
const expected = (condition: Condition) => oracle.members(condition);

describe('field conditions (ids worked out by hand)', () => {
  const cases: Array<[string, Condition, number[]]> = [
    ['integer gt', { field: 'age', op: 'gt', value: 30 }, [2, 4, 7, 9, 11]],
    ['integer ne skips nulls', { field: 'age', op: 'ne', value: 30 }, [1, 2, 4, 6, 7, 9, 10, 11]],
    ['integer eq', { field: 'age', op: 'eq', value: 30 }, [5, 8]],
    ['integer lt', { field: 'age', op: 'lt', value: 25 }, [6]],
    ['integer lte', { field: 'age', op: 'lte', value: 29 }, [1, 6, 10]],
    ['integer gte', { field: 'age', op: 'gte', value: 61 }, [4, 9]],
    ['integer between is inclusive', { field: 'age', op: 'between', value: [25, 34] }, [1, 2, 5, 8, 10]],
    ['integer in', { field: 'age', op: 'in', value: [18, 72, 99] }, [6, 9]],
    ['integer not_in skips nulls', { field: 'age', op: 'not_in', value: [30, 25] }, [2, 4, 6, 7, 9, 10, 11]],
    ['is_null', { field: 'age', op: 'is_null' }, [3, 12]],
    ['not_null', { field: 'age', op: 'not_null' }, [1, 2, 4, 5, 6, 7, 8, 9, 10, 11]],
    ['integer code column', { field: 'vip_level', op: 'gte', value: 3 }, [4, 7, 9]],
    ['tenure ≤ 3', { field: 'tenure_months', op: 'lte', value: 3 }, [3, 6, 8]],
    ['decimal gt', { field: 'arpu', op: 'gt', value: 99.99 }, [1, 4, 7, 9, 11]],
    ['decimal gt with more digits than stored', { field: 'arpu', op: 'gt', value: 99.999 }, [1, 4, 7, 9, 11]],
    ['decimal eq', { field: 'arpu', op: 'eq', value: 99.99 }, [6]],
    ['decimal eq whole', { field: 'arpu', op: 'eq', value: 100 }, [7]],
    ['decimal lt', { field: 'arpu', op: 'lt', value: 0.2 }, [8]],
    ['decimal between', { field: 'arpu', op: 'between', value: [88.8, 120.5] }, [1, 3, 6, 7]],
    ['decimal in', { field: 'arpu', op: 'in', value: [45, 0.1, 1] }, [2, 8]],
    ['bigint in', { field: 'customer_id', op: 'in', value: [1, 3, 12] }, [1, 3, 12]],
    ['varchar eq is case-sensitive', { field: 'city', op: 'eq', value: 'Hangzhou' }, [1, 2, 6, 7]],
    ['varchar ne skips nulls', { field: 'city', op: 'ne', value: 'Hangzhou' }, [3, 4, 5, 9, 10, 11]],
    ['varchar lt', { field: 'city', op: 'lt', value: 'O' }, [1, 2, 3, 4, 6, 7]],
    ['varchar starts_with', { field: 'city', op: 'starts_with', value: 'Hang' }, [1, 2, 6, 7]],
    ['varchar contains', { field: 'city', op: 'contains', value: 'zhou' }, [1, 2, 5, 6, 7, 9, 11]],
    ['starts_with treats % and _ literally', { field: 'city', op: 'starts_with', value: '%' }, []],
    ['varchar in', { field: 'brand', op: 'in', value: ['mzone', 'easyown'] }, [2, 3, 5, 6, 9, 10]],
    ['varchar not_in', { field: 'brand', op: 'not_in', value: ['gotone'] }, [2, 3, 5, 6, 9, 10]],
    ['code eq', { field: 'status', op: 'ne', value: 'active' }, [4, 7]],
    ['boolean eq true', { field: 'is_5g_device', op: 'eq', value: true }, [1, 3, 6, 9, 11]],
    ['boolean eq false', { field: 'is_5g_device', op: 'eq', value: false }, [2, 4, 7, 8, 10]],
    ['boolean ne', { field: 'is_5g_device', op: 'ne', value: true }, [2, 4, 7, 8, 10]],
    ['boolean in', { field: 'is_5g_device', op: 'in', value: [true, false] }, [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]],
    ['date gt', { field: 'join_date', op: 'gt', value: '2024-01-01' }, [3, 6, 8]],
    ['date between (leap day)', { field: 'join_date', op: 'between', value: ['2008-02-29', '2010-06-30'] }, [4, 7]],
    ['date eq', { field: 'join_date', op: 'eq', value: '2022-12-31' }, [10]],
    ['date in', { field: 'join_date', op: 'in', value: ['2022-12-31', '2005-05-05'] }, [9, 10]],
    ['injection in a value is just a value', { field: 'name', op: 'eq', value: INJECTION }, [8]],
    ['injection in contains', { field: 'name', op: 'contains', value: "' OR 1=1" }, [8]],
  ];
  it.each(cases)('%s', async (_label, condition, ids) => {
    expect(await members(condition)).toEqual(ids);
    expect(expected(condition)).toEqual(ids);
  });

  it('binds a large in list as one list parameter and answers the same', async () => {
    const fillers = Array.from({ length: 99 }, (_, i) => 1000 + i);
    const prepared = await pivot.prepare({ field: 'customer_id', op: 'in', value: [2, ...fillers] }, 'condition', ADMIN);
    const params = new SqlParams();
    expect(prepared.predicate(params)).toBe('(c."customer_id" IS NOT NULL AND c."customer_id" IN (SELECT unnest(CAST($1 AS BIGINT[]))))');
    expect(params.length).toBe(1);
    expect(await ids(prepared)).toEqual([2]);
    expect(await members({ field: 'customer_id', op: 'not_in', value: [1, 2, 3, 4, 5, ...fillers] })).toEqual([6, 7, 8, 9, 10, 11, 12]);
    const cities = Array.from({ length: 100 }, (_, i) => `City${i}`);
    expect(await members({ field: 'city', op: 'in', value: ['Ningbo', ...cities] })).toEqual([3, 4]);
  });
});

describe('null and complement semantics', () => {
  it('not is the complement: null ages are in not(age > 30)', async () => {
    const inner = await members({ field: 'age', op: 'gt', value: 30 });
    const outer = await members({ not: { field: 'age', op: 'gt', value: 30 } });
    expect(outer).toEqual([1, 3, 5, 6, 8, 10, 12]);
    expect(outer).toEqual(complement(inner));
  });

  it('not of ne, not_in, starts_with and boolean eq includes the nulls', async () => {
    expect(await members({ not: { field: 'age', op: 'ne', value: 30 } })).toEqual([3, 5, 8, 12]);
    expect(await members({ not: { field: 'brand', op: 'not_in', value: ['gotone'] } })).toEqual([1, 4, 7, 8, 11, 12]);
    expect(await members({ not: { field: 'city', op: 'starts_with', value: 'Hang' } })).toEqual([3, 4, 5, 8, 9, 10, 11, 12]);
    expect(await members({ not: { field: 'is_5g_device', op: 'eq', value: true } })).toEqual([2, 4, 5, 7, 8, 10, 12]);
  });

  it('double negation and De Morgan hold over nulls', async () => {
    const a: Condition = { field: 'age', op: 'gte', value: 30 };
    const b: Condition = { field: 'city', op: 'eq', value: 'Hangzhou' };
    expect(await members({ not: { not: a } })).toEqual(await members(a));
    expect(await members({ not: { all: [a, b] } })).toEqual(await members({ any: [{ not: a }, { not: b }] }));
    expect(await members({ not: { any: [a, b] } })).toEqual(await members({ all: [{ not: a }, { not: b }] }));
  });

  it('all intersects, any unites, all + not subtracts', async () => {
    expect(await members({ all: [{ field: 'city', op: 'eq', value: 'Hangzhou' }, { field: 'age', op: 'gt', value: 30 }] })).toEqual([2, 7]);
    expect(await members({ any: [{ field: 'city', op: 'eq', value: 'Ningbo' }, { field: 'age', op: 'gt', value: 60 }] })).toEqual([3, 4, 9]);
    expect(await members({ all: [{ field: 'city', op: 'eq', value: 'Hangzhou' }, { not: { field: 'age', op: 'gt', value: 30 } }] })).toEqual([1, 6]);
  });
});

describe('exists', () => {
  const cases: Array<[string, Condition, number[]]> = [
    ['any related row', { exists: { dataset: 'subscriptions' } }, [1, 3, 6, 9]],
    ['active 5G plan', { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } }, [1, 9]],
    ['not exists ignores rows without a customer', { not: { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } } }, [2, 3, 4, 5, 6, 7, 8, 10, 11, 12]],
    ['5G device without an active 5G plan', { all: [{ field: 'is_5g_device', op: 'eq', value: true }, { not: { exists: { dataset: 'subscriptions', where: { all: [{ field: 'product_id', op: 'eq', value: 'P5G' }, { field: 'end_date', op: 'is_null' }] } } } }] }, [3, 6, 11]],
    ['tag', { exists: { dataset: 'tags', where: { field: 'tag', op: 'eq', value: 'video_heavy' } } }, [1, 3, 11]],
    ['tag in', { exists: { dataset: 'tags', where: { field: 'tag', op: 'in', value: ['student', 'traveler'] } } }, [3, 6, 9]],
    ['not tag', { not: { exists: { dataset: 'tags', where: { field: 'tag', op: 'eq', value: 'student' } } } }, [1, 2, 4, 5, 7, 8, 9, 10, 11, 12]],
    ['where with not and a date', { exists: { dataset: 'subscriptions', where: { not: { field: 'start_date', op: 'lt', value: '2025-01-01' } } } }, [1, 3, 6]],
    ['exists on usage rows', { exists: { dataset: 'usage_monthly', where: { field: 'month', op: 'eq', value: '2025-07-01' } } }, [1, 4, 9, 10]],
  ];
  it.each(cases)('%s', async (_label, condition, ids) => {
    expect(await members(condition)).toEqual(ids);
    expect(expected(condition)).toEqual(ids);
  });
});

describe('aggregate windows', () => {
  const cases: Array<[string, Condition, number[]]> = [
    ['avg over 3 months (missing months ignored)', { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gt', value: 1000 } }, [1, 3, 6, 10, 11]],
    ['not avg includes customers without usage', { not: { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gt', value: 1000 } } }, [2, 4, 5, 7, 8, 9, 12]],
    ['count 0 for no rows and null values', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'data_mb', lastMonths: 3, op: 'eq', value: 0 } }, [4, 5, 7, 12]],
    ['count gte', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'data_mb', lastMonths: 3, op: 'gte', value: 2 } }, [1, 2, 3, 8, 9, 11]],
    ['count lt where 0 qualifies', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'data_mb', lastMonths: 3, op: 'lt', value: 2 } }, [4, 5, 6, 7, 10, 12]],
    ['count in with 0', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'data_mb', lastMonths: 3, op: 'in', value: [0, 1] } }, [4, 5, 6, 7, 10, 12]],
    ['sum over 2 months', { aggregate: { dataset: 'usage_monthly', fn: 'sum', field: 'data_mb', lastMonths: 2, op: 'gte', value: 8000 } }, [3, 6, 10]],
    ['sum of money is exact', { aggregate: { dataset: 'usage_monthly', fn: 'sum', field: 'arpu', lastMonths: 2, op: 'eq', value: 0.3 } }, [8]],
    ['min over 4 months', { aggregate: { dataset: 'usage_monthly', fn: 'min', field: 'data_mb', lastMonths: 4, op: 'lt', value: 100 } }, [8, 9]],
    ['max between', { aggregate: { dataset: 'usage_monthly', fn: 'max', field: 'data_mb', lastMonths: 4, op: 'between', value: [100, 4000] } }, [1, 2, 4, 11]],
    ['max ne skips customers without data', { aggregate: { dataset: 'usage_monthly', fn: 'max', field: 'data_mb', lastMonths: 1, op: 'ne', value: 5 } }, [1, 2, 3, 6, 9, 11]],
    ['more months than exist (8 > K, 4 present)', { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 8, op: 'gt', value: 2000 } }, [1, 3, 6, 10, 11]],
    ['count over 8 months', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'data_mb', lastMonths: 8, op: 'eq', value: 0 } }, [5, 7, 12]],
    ['count of money in the latest month', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'arpu', lastMonths: 1, op: 'eq', value: 1 } }, [1, 2, 3, 6, 8, 9, 11]],
    ['count of a non-measure column counts rows', { aggregate: { dataset: 'usage_monthly', fn: 'count', field: 'month', lastMonths: 3, op: 'eq', value: 1 } }, [6, 7, 10]],
  ];
  it.each(cases)('%s', async (_label, condition, ids) => {
    expect(await members(condition, pivot)).toEqual(ids);
    expect(await members(condition, fallback)).toEqual(ids);
    expect(expected(condition)).toEqual(ids);
  });

  it('pivot columns and the usage_monthly path agree on every fn, window and comparison', async () => {
    const fns = ['avg', 'sum', 'min', 'max', 'count'] as const;
    const comparisons: Array<[string, unknown]> = [['gt', 500], ['lte', 60], ['eq', 3000], ['ne', 50], ['between', [5, 2000]], ['lt', 1], ['not_in', [0, 5, 3000]]];
    let checked = 0;
    for (const fn of fns) {
      for (const field of ['data_mb', 'arpu', 'sms_count']) {
        for (const lastMonths of [1, 2, 3, 4, 6]) {
          for (const [op, value] of comparisons) {
            const condition = { aggregate: { dataset: 'usage_monthly', fn, field, lastMonths, op, value } } as Condition;
            const want = expected(condition);
            expect(await members(condition, pivot), JSON.stringify(condition)).toEqual(want);
            expect(await members(condition, fallback), JSON.stringify(condition)).toEqual(want);
            const negated: Condition = { not: condition };
            expect(await members(negated, fallback), JSON.stringify(negated)).toEqual(complement(want));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(5 * 3 * 5 * 7);
  });

  it('compiles a window within K to profile columns and a longer one to usage_monthly', async () => {
    const params = new SqlParams();
    const short = (await pivot.prepare({ aggregate: { dataset: 'usage_monthly', fn: 'max', field: 'mou', lastMonths: 2, op: 'gt', value: 100 } }, 'condition', ADMIN)).predicate(params);
    expect(short).toBe('COALESCE(greatest(c."u_mou_m1", c."u_mou_m2") > CAST($1 AS DOUBLE), FALSE)');
    const long = (await pivot.prepare({ aggregate: { dataset: 'usage_monthly', fn: 'max', field: 'mou', lastMonths: 12, op: 'gt', value: 100 } }, 'condition', ADMIN)).predicate(params);
    expect(long).toContain('FROM "usage_monthly" c_u WHERE');
    expect(long).toContain('month_rank <= CAST($2 AS INTEGER)');
    expect(params.values).toEqual([100, 12, 100]);
  });
});

describe('lists, segments and rules', () => {
  it('list membership honours expiry at the service clock', async () => {
    expect(await members({ list: 'blacklist' })).toEqual([2]);
    expect(await members({ list: 'greylist' })).toEqual([4]);
    expect(await members({ not: { list: 'greylist' } })).toEqual(complement([4]));
    expect(await members({ list: 'complaint' })).toEqual([]);
    expect(await members({ any: [{ list: 'vip' }, { list: 'blacklist' }] })).toEqual([2, 9]);
  });

  it('segment membership composes as set operations', async () => {
    expect(await members({ segment: SEGMENT })).toEqual(SEGMENT_MEMBERS);
    expect(await members({ all: [{ segment: SEGMENT }, { field: 'age', op: 'gt', value: 30 }] })).toEqual([2, 4]);
    expect(await members({ any: [{ segment: SEGMENT }, { list: 'vip' }] })).toEqual([1, 2, 3, 4, 5, 9]);
    expect(await members({ all: [{ field: 'brand', op: 'eq', value: 'gotone' }, { not: { segment: SEGMENT } }] })).toEqual([7, 8, 11]);
  });

  it('rules compile inline, nested, and report every rule, segment and list reached', async () => {
    const prepared = await pivot.prepare({ all: [{ rule: 'hz-adults-not-blacklisted' }, { any: [{ segment: SEGMENT }, { list: 'vip' }] }] }, 'condition', ADMIN);
    expect(prepared.rules.sort()).toEqual(['adults', 'hz-adults', 'hz-adults-not-blacklisted']);
    expect(prepared.segments).toEqual([SEGMENT]);
    expect(prepared.lists.sort()).toEqual(['blacklist', 'vip']);
    expect(await ids(prepared)).toEqual([1]);
    expect(await members({ rule: 'hz-adults' })).toEqual([1, 2, 6, 7]);
    expect(await members({ not: { rule: 'adults' } })).toEqual([3, 12]);
    expect(expected({ rule: 'hz-adults' })).toEqual([1, 2, 6, 7]);
  });

  it('rejects a rule cycle naming the chain', async () => {
    const error = await pivot.prepare({ all: [{ field: 'age', op: 'gt', value: 1 }, { rule: 'loop-a' }] }, 'condition', ADMIN).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('RULE_CYCLE');
    expect((error as Error).message).toContain('loop-a → loop-b → loop-c → loop-a');
    expect((error as { errors: unknown }).errors).toEqual([{ path: 'condition.all[1].rule', message: 'cycle loop-a → loop-b → loop-c → loop-a' }]);
  });

  it('rejects a new rule definition that would reach itself', async () => {
    const error = await pivot.prepare({ any: [{ rule: 'hz-adults' }] }, 'condition', { asRule: 'adults', role: 'admin' }).catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('RULE_CYCLE');
    expect((error as Error).message).toContain('adults → hz-adults → adults');
  });

  it('reports dangling references, unready segments and unknown lists at their paths', async () => {
    const missing = randomUUID();
    const error = await pivot
      .prepare({ all: [{ rule: 'nope' }, { rule: 'uses-missing' }, { rule: 'stale' }, { segment: missing }, { segment: BUILDING_SEGMENT }, { list: 'nolist' }] }, 'condition', ADMIN)
      .catch((e: unknown) => e);
    expect(isAppError(error) && error.code).toBe('BAD_CONDITION');
    const problems = (error as { errors: Array<{ path: string; message: string }> }).errors;
    expect(problems.map((p) => p.path)).toEqual([
      'condition.all[0].rule',
      'condition.all[1].rule',
      'condition.all[2].rule',
      'condition.all[3].segment',
      'condition.all[4].segment',
      'condition.all[5].list',
    ]);
    expect(problems[0]!.message).toBe('rule "nope" does not exist');
    expect(problems[1]!.message).toBe('rule "not-there" does not exist (through rule "uses-missing")');
    expect(problems[2]!.message).toContain('rule "stale" is no longer valid: field: unknown field "shoe_size"');
    expect(problems[3]!.message).toBe(`segment ${missing} does not exist`);
    expect(problems[4]!.message).toContain('still being built');
    expect(problems[5]!.message).toBe('list "nolist" does not exist');
  });
});

describe('SQL shape and parameters', () => {
  it('binds every value and numbers placeholders across predicates sharing one SqlParams', async () => {
    const a = await pivot.prepare({ all: [{ field: 'name', op: 'eq', value: INJECTION }, { field: 'join_date', op: 'gte', value: '2020-01-01' }] }, 'condition', ADMIN);
    const b = await pivot.prepare({ list: 'blacklist' }, 'condition', ADMIN);
    const params = new SqlParams();
    const sqlA = a.predicate(params);
    const sqlB = b.predicate(params, 'p');
    expect(sqlA).toBe('((c."name" IS NOT NULL AND c."name" = CAST($1 AS VARCHAR)) AND (c."join_date" IS NOT NULL AND c."join_date" >= CAST($2 AS DATE)))');
    expect(sqlB).toBe('p."customer_id" IN (SELECT customer_id FROM list_members WHERE list_name = CAST($3 AS VARCHAR) AND (expires_at IS NULL OR expires_at > CAST($4 AS TIMESTAMPTZ)))');
    expect(params.values).toEqual([INJECTION, '2020-01-01', 'blacklist', NOW.toISOString()]);
    expect(`${sqlA}${sqlB}`).not.toContain('OR 1=1');
    const rows = await ctx.container.warehouse.query<{ customer_id: number }>(
      `SELECT c.customer_id FROM customer_profile c JOIN customer_profile p USING (customer_id) WHERE ${sqlA} OR ${sqlB} ORDER BY 1`,
      params.values,
    );
    expect(rows.map((r) => r.customer_id)).toEqual([2, 8]);
  });

  it('refuses an unsafe alias', async () => {
    const prepared = await pivot.prepare({ field: 'age', op: 'gt', value: 1 }, 'condition', ADMIN);
    expect(() => prepared.predicate(new SqlParams(), 'c; DROP TABLE customers')).toThrow(/unsafe alias/);
  });
});
