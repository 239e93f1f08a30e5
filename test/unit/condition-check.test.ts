import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { MAX_IN_VALUES } from '../../src/conditions/check.js';
import { conditionSchema } from '../../src/conditions/condition.schemas.js';
import { ConditionService } from '../../src/conditions/condition.service.js';
import { AppError, type FieldProblem } from '../../src/http/errors.js';

const catalog = loadCatalog();

function service(rules: Record<string, unknown> = {}): ConditionService {
  return new ConditionService({
    catalog,
    config: { USAGE_WINDOW_MONTHS: 6, CONDITION_MAX_DEPTH: 12, CONDITION_MAX_NODES: 500 },
    rules: { getCondition: async (name) => rules[name] },
    segments: { status: async () => 'ready' },
    lists: { exists: async (name) => name === 'blacklist' },
  });
}

/** The problems `prepare` reports, or [] when it accepts the condition. */
async function problems(condition: unknown, rules: Record<string, unknown> = {}): Promise<FieldProblem[]> {
  try {
    await service(rules).prepare(condition, 'condition', { role: 'admin' });
    return [];
  } catch (error) {
    if (error instanceof AppError && error.code === 'BAD_CONDITION') return error.errors ?? [];
    throw error;
  }
}
const one = async (condition: unknown) => {
  const found = await problems(condition);
  expect(found, JSON.stringify(found)).toHaveLength(1);
  return `${found[0]!.path}: ${found[0]!.message}`;
};
const f = (field: string, op: string, value?: unknown) => (value === undefined ? { field, op } : { field, op, value });

describe('JSON paths and collected problems', () => {
  it('names the path like DESIGN.md does', async () => {
    const condition = { all: [f('age', 'gt', 1), f('age', 'gt', 2), f('age', 'gt', 'x')] };
    expect(await one(condition)).toBe('condition.all[2].value: expected number, got string');
  });

  it('reports every problem of a condition together', async () => {
    const found = await problems({
      any: [f('age', 'gt', 'x'), f('shoe_size', 'eq', 1), { not: f('join_date', 'eq', '2023-02-29') }, { exists: { dataset: 'grids' } }],
    });
    expect(found.map((p) => p.path)).toEqual([
      'condition.any[0].value',
      'condition.any[1].field',
      'condition.any[2].not.value',
      'condition.any[3].exists.dataset',
    ]);
  });

  it('reports shape problems at the key that is wrong, not at the node', async () => {
    expect(await one({ all: [f('age', 'gtx', 1)] })).toMatch(/^condition\.all\[0\]\.op: Invalid option: expected one of "eq"\|"ne"/);
    expect(await one({ all: [{ fild: 'age', op: 'eq', value: 1 }] })).toBe(
      'condition.all[0]: expected exactly one of all, any, not, field, exists, aggregate, rule, segment, list; got keys fild, op, value',
    );
    expect(await one({ field: 'age', op: 'eq', value: 1, extra: true })).toBe('condition: unknown key extra');
    expect(await one({ all: [] })).toBe('condition.all: needs at least one condition');
    expect(await one({ any: [f('age', 'eq', 1)], all: [f('age', 'eq', 1)] })).toBe(
      'condition: expected exactly one of all, any, not, field, exists, aggregate, rule, segment, list; got keys any, all',
    );
    expect(await one({ not: 'age > 3' })).toBe('condition.not: expected a condition object, got string');
    expect(await one(null)).toBe('condition: expected a condition object, got null');
    expect(await one(undefined)).toBe('condition: a condition is required');
    expect(await one({ rule: 'Bad Name!' })).toMatch(/^condition\.rule: a rule name is/);
    expect(await one({ segment: 'not-a-uuid' })).toBe('condition.segment: a segment id is a UUID');
    expect(await one({ field: 'age', op: 'in', value: [1, [2]] })).toMatch(/^condition\.value/);
    expect(await one({ aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 0, op: 'gt', value: 1 } })).toMatch(
      /^condition\.aggregate\.lastMonths: /,
    );
    expect(await one({ aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 2.5, op: 'gt', value: 1 } })).toBe(
      'condition.aggregate.lastMonths: must be a whole number of months',
    );
    expect(await one({ aggregate: { dataset: 'usage_monthly', fn: 'median', field: 'data_mb', lastMonths: 3, op: 'gt', value: 1 } })).toMatch(
      /^condition\.aggregate\.fn: Invalid option/,
    );
  });
});

describe('fields against the catalog', () => {
  it('rejects unknown fields listing the known ones, and injection attempts in names', async () => {
    const message = await one(f('shoe_size', 'eq', 42));
    expect(message).toMatch(/^condition\.field: unknown field "shoe_size" of customers; known fields: customer_id, msisdn, name, gender, age/);
    expect(await one(f('age" OR 1=1 --', 'eq', 1))).toMatch(/^condition\.field: unknown field "age\\" OR 1=1 --"/);
    expect(await one(f('u_data_mb_m1', 'gt', 1))).toMatch(/unknown field "u_data_mb_m1"/);
  });

  const typeCases: Array<[string, unknown, string]> = [
    ['integer given a string', f('age', 'eq', '30'), 'condition.value: expected number, got string'],
    ['integer given a fraction', f('age', 'eq', 30.5), 'condition.value: expected a whole number, got 30.5'],
    ['integer out of range', f('age', 'gt', 2 ** 40), `condition.value: expected a 32-bit whole number, got ${2 ** 40}`],
    ['bigint beyond 2^53', f('customer_id', 'eq', 2 ** 60), `condition.value: expected a whole number, got ${2 ** 60}`],
    ['decimal given a string', f('arpu', 'gt', '12.5'), 'condition.value: expected number, got string'],
    ['varchar given a number', f('city', 'eq', 571), 'condition.value: expected string, got number'],
    ['code outside its values', f('gender', 'eq', 'X'), 'condition.value: customers.gender is one of M, F; got "X"'],
    ['boolean given a string', f('is_5g_device', 'eq', 'true'), 'condition.value: expected boolean, got string'],
    ['date that does not exist', f('join_date', 'eq', '2023-02-29'), 'condition.value: expected a real date as YYYY-MM-DD, got "2023-02-29"'],
    ['date in another format', f('join_date', 'gt', '2023/01/05'), 'condition.value: expected a real date as YYYY-MM-DD, got "2023/01/05"'],
    ['date as a number', f('join_date', 'gt', 20230105), 'condition.value: expected a date string YYYY-MM-DD, got number'],
    ['array for a single-value op', f('age', 'gt', [1, 2]), 'condition.value: gt needs a single value, got array'],
    ['between with one value', f('age', 'between', [1]), 'condition.value: between needs [low, high], got 1 values'],
    ['between reversed', f('age', 'between', [50, 20]), 'condition.value: between needs low ≤ high, got [50, 20]'],
    ['between reversed dates', f('join_date', 'between', ['2024-01-02', '2024-01-01']), 'condition.value: between needs low ≤ high, got ["2024-01-02", "2024-01-01"]'],
    ['between bad element', f('age', 'between', [1, 'x']), 'condition.value[1]: expected number, got string'],
    ['in empty', f('city', 'in', []), 'condition.value: in needs at least one value'],
    ['in not an array', f('city', 'in', 'Hangzhou'), 'condition.value: in needs an array of values, got string'],
    ['in too long', f('age', 'in', Array.from({ length: MAX_IN_VALUES + 1 }, (_, i) => i)), `condition.value: in takes at most ${MAX_IN_VALUES} values, got ${MAX_IN_VALUES + 1}`],
    ['not_in bad element', f('age', 'not_in', [1, 2, 'three']), 'condition.value[2]: expected number, got string'],
    ['is_null with a value', f('age', 'is_null', 3), 'condition.value: is_null takes no value'],
    ['eq without a value', f('age', 'eq'), 'condition.value: eq needs a value'],
    ['starts_with on a number column', f('age', 'starts_with', '3'), 'condition.op: starts_with applies to text fields only; customers.age is integer'],
    ['contains with a number', f('city', 'contains', 3), 'condition.value: expected string, got number'],
    ['ordering on a boolean', f('is_5g_device', 'gt', false), 'condition.op: gt does not apply to the boolean field customers.is_5g_device; use eq, ne, in or not_in'],
  ];
  it.each(typeCases)('%s', async (_label, condition, message) => {
    expect(await one(condition)).toBe(message);
  });

  it('caps the problems reported for one long in list', async () => {
    const found = await problems(f('age', 'in', Array.from({ length: 100 }, () => 'x')));
    expect(found).toHaveLength(5);
    expect(found[4]!.path).toBe('condition.value[4]');
  });

  it('accepts every operator on every type class it applies to', async () => {
    const accepted: unknown[] = [
      f('customer_id', 'in', [1, 2]),
      f('age', 'between', [18, 30]),
      f('arpu', 'gte', 99.5),
      f('city', 'starts_with', 'Hang'),
      f('city', 'contains', 'zhou'),
      f('city', 'lt', 'N'),
      f('gender', 'not_in', ['M']),
      f('is_5g_device', 'ne', true),
      f('join_date', 'between', ['2020-02-29', '2020-03-01']),
      f('vip_level', 'not_null'),
      f('name', 'is_null'),
    ];
    for (const condition of accepted) expect(await problems(condition), JSON.stringify(condition)).toEqual([]);
  });
});

describe('exists and aggregate', () => {
  it('accepts exists on related datasets with their own columns', async () => {
    expect(await problems({ exists: { dataset: 'subscriptions', where: { all: [f('product_id', 'eq', 'P5G'), f('end_date', 'is_null')] } } })).toEqual([]);
    expect(await problems({ exists: { dataset: 'tags' } })).toEqual([]);
  });

  it('rejects exists on unrelated datasets, foreign columns and customer-level nodes inside where', async () => {
    expect(await one({ exists: { dataset: 'customers' } })).toBe(
      'condition.exists.dataset: unknown or unrelated dataset "customers"; exists may use: usage_monthly, subscriptions, tags',
    );
    expect(await one({ exists: { dataset: 'products' } })).toMatch(/unrelated dataset "products"/);
    expect(await one({ exists: { dataset: 'subscriptions', where: f('age', 'gt', 3) } })).toMatch(
      /^condition\.exists\.where\.field: unknown field "age" of subscriptions; known fields: customer_id, product_id, start_date, end_date$/,
    );
    expect(await one({ exists: { dataset: 'tags', where: { any: [f('tag', 'eq', 'x'), { list: 'blacklist' }] } } })).toBe(
      'condition.exists.where.any[1]: only field, all, any and not may appear inside exists.where; got list',
    );
    expect(await one({ exists: { dataset: 'tags', where: f('tag', 'eq', 3) } })).toBe('condition.exists.where.value: expected string, got number');
  });

  const agg = (fn: string, field: string, op: string, value?: unknown, dataset = 'usage_monthly', lastMonths = 3) => ({
    aggregate: value === undefined ? { dataset, fn, field, lastMonths, op } : { dataset, fn, field, lastMonths, op, value },
  });
  it('accepts aggregates on numeric fields, and count on any column', async () => {
    for (const fn of ['avg', 'sum', 'min', 'max', 'count']) expect(await problems(agg(fn, 'data_mb', 'gt', 10))).toEqual([]);
    expect(await problems(agg('count', 'month', 'eq', 2))).toEqual([]);
    expect(await problems(agg('avg', 'arpu', 'between', [10.5, 20]))).toEqual([]);
    expect(await problems(agg('count', 'mou', 'in', [0, 1], 'usage_monthly', 120))).toEqual([]);
  });

  it('rejects aggregates outside usage_monthly, on text, with null ops or mistyped values', async () => {
    expect(await one(agg('avg', 'monthly_fee', 'gt', 1, 'products'))).toBe('condition.aggregate.dataset: aggregate windows are over usage_monthly; got "products"');
    expect(await one(agg('avg', 'month', 'gt', 1))).toBe('condition.aggregate.field: avg needs a numeric field; usage_monthly.month is date');
    expect(await one(agg('sum', 'nothing', 'gt', 1))).toMatch(/^condition\.aggregate\.field: unknown field "nothing" of usage_monthly/);
    expect(await one(agg('avg', 'data_mb', 'is_null'))).toMatch(/^condition\.aggregate\.op: is_null does not apply to an aggregate/);
    expect(await one(agg('count', 'data_mb', 'eq', 1.5))).toBe('condition.aggregate.value: expected a whole number, got 1.5');
    expect(await one(agg('avg', 'data_mb', 'gt', 'a lot'))).toBe('condition.aggregate.value: expected number, got string');
    expect(await one({ aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 121, op: 'gt', value: 1 } })).toMatch(
      /^condition\.aggregate\.lastMonths: /,
    );
  });
});

describe('size and depth limits', () => {
  const nestNot = (levels: number): unknown => {
    let node: unknown = f('age', 'gt', 1);
    for (let i = 1; i < levels; i++) node = { not: node };
    return node;
  };

  it('accepts the maximum depth and rejects one more level', async () => {
    expect(await problems(nestNot(12))).toEqual([]);
    expect(await one(nestNot(13))).toBe('condition: the condition nests deeper than 12 levels');
  });

  it('rejects a 100,000-level document without overflowing the stack', async () => {
    const text = '{"not":'.repeat(100_000) + '{"field":"age","op":"gt","value":1}' + '}'.repeat(100_000);
    const input = JSON.parse(text) as unknown;
    expect(await one(input)).toBe('condition: the condition nests deeper than 12 levels');
    const viaSchema = conditionSchema.safeParse(input);
    expect(viaSchema.success).toBe(false);
    expect(viaSchema.error?.issues[0]?.message).toBe('the condition nests deeper than 12 levels');
  });

  it('rejects too many nodes, including one very wide all', async () => {
    expect(await one({ any: Array.from({ length: 500 }, (_, i) => f('age', 'eq', i)) })).toBe('condition: the condition has more than 500 nodes');
    expect(await one({ all: Array.from({ length: 1_000_000 }, () => f('age', 'eq', 1)) })).toBe('condition: the condition has more than 500 nodes');
  });

  it('bounds what rule references expand to', async () => {
    const rules: Record<string, unknown> = { r0: f('age', 'gt', 1) };
    for (let level = 1; level <= 4; level++) rules[`r${level}`] = { all: Array.from({ length: 10 }, () => ({ rule: `r${level - 1}` })) };
    expect(await problems({ rule: 'r3' }, rules)).toEqual([]);
    const found = await problems({ rule: 'r4' }, rules);
    expect(found).toEqual([{ path: 'condition', message: 'with its rules expanded the condition has 11111 nodes, more than 4000' }]);
  });
});

describe('the Condition schema as documentation', () => {
  it('renders as a recursive JSON Schema', () => {
    const json = JSON.stringify(z.toJSONSchema(conditionSchema, { io: 'input', unrepresentable: 'any' }));
    for (const key of ['"all"', '"any"', '"not"', '"exists"', '"aggregate"', '"lastMonths"', '"starts_with"']) expect(json).toContain(key);
  });
});
