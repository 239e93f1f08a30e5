import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Migrator, NO_MIGRATIONS, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { createDb, ensureDatabase } from '../../src/db/kysely.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';
import { loadSample } from '../helpers/sample.js';

/** The sample customers read straight from the CSV: the oracle the funnel is checked against. */
function sampleCustomers(): Array<{ age: number | null; status: string }> {
  const [header, ...lines] = readFileSync('fixtures/sample/customers.csv', 'utf8').trim().split('\n');
  const columns = header!.split(',');
  const age = columns.indexOf('age');
  const status = columns.indexOf('status');
  return lines.map((line) => {
    const cells = line.split(',');
    if (cells.length !== columns.length) throw new Error(`unexpected CSV line ${line}`);
    return { age: cells[age] === '' ? null : Number(cells[age]), status: cells[status]! };
  });
}

describe('exclusion policies pin the saved rules they use', () => {
  let ctx: TestContext;
  let segmentId: string;
  const customers = sampleCustomers();
  const id = randomUUID().slice(0, 8);
  const inner = `pin-inner-${id}`;
  const outer = `pin-outer-${id}`;
  const policy = `pin-${id}`;
  const steps = [{ type: 'condition', label: 'seniors', condition: { rule: outer } }];

  beforeAll(async () => {
    ctx = await createTestContext();
    await loadSample(ctx);
    const segment = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('analyst'),
      payload: { name: `everyone ${id}`, condition: { field: 'customer_id', op: 'gt', value: 0 } },
    });
    expect(segment.statusCode).toBe(201);
    segmentId = segment.json().id;
  });
  afterAll(async () => ctx?.close());

  const putRule = (name: string, condition: unknown) =>
    ctx.app.inject({ method: 'PUT', url: `/v1/rules/${name}`, headers: ctx.auth('analyst'), payload: { description: 'pinning test', condition } });
  const putPolicy = () =>
    ctx.app.inject({ method: 'PUT', url: `/v1/exclusion-policies/${policy}`, headers: ctx.auth('operator'), payload: { steps } });
  const preview = async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/targeting/preview',
      headers: ctx.auth('operator'),
      payload: { segmentId, policy, controlGroupPercent: 0, seed: 'pinning' },
    });
    expect(res.statusCode).toBe(200);
    return res.json() as { id: string; policy: { name: string; version: number }; funnel: Array<{ step: string; removed?: number; rules?: unknown }> };
  };

  it('evaluates the rule versions saved with the policy until an operator saves it again', async () => {
    const active60 = customers.filter((c) => c.age !== null && c.age >= 60 && c.status === 'active').length;
    const active200 = 0;
    expect(active60).toBeGreaterThan(0);

    expect((await putRule(inner, { field: 'age', op: 'gte', value: 60 })).statusCode).toBe(201);
    expect((await putRule(outer, { all: [{ rule: inner }, { field: 'status', op: 'eq', value: 'active' }] })).statusCode).toBe(201);
    const saved = await putPolicy();
    expect(saved.statusCode).toBe(201);
    expect(saved.json().version).toBe(1);
    expect(saved.json().rules).toEqual([
      { name: inner, version: 1, condition: { field: 'age', op: 'gte', value: 60 } },
      { name: outer, version: 1, condition: { all: [{ rule: inner }, { field: 'status', op: 'eq', value: 'active' }] } },
    ]);

    const first = await preview();
    expect(first.policy).toEqual({ name: policy, version: 1 });
    expect(first.funnel[1]).toMatchObject({
      step: 'seniors',
      removed: active60,
      rules: [
        { name: inner, version: 1 },
        { name: outer, version: 1 },
      ],
    });

    // An analyst edits the nested rule: the policy, still at version 1, removes what it removed.
    expect((await putRule(inner, { field: 'age', op: 'gte', value: 200 })).statusCode).toBe(200);
    const afterEdit = await preview();
    expect(afterEdit.policy).toEqual({ name: policy, version: 1 });
    expect(afterEdit.funnel[1]).toMatchObject({ removed: active60, rules: [{ name: inner, version: 1 }, { name: outer, version: 1 }] });

    // The operator saves the same steps again: the edit reaches the policy as a new version.
    const resaved = await putPolicy();
    expect(resaved.statusCode).toBe(200);
    expect(resaved.json().version).toBe(2);
    expect(resaved.json().rules.map((r: { name: string; version: number }) => [r.name, r.version])).toEqual([
      [inner, 2],
      [outer, 1],
    ]);
    const second = await preview();
    expect(second.policy).toEqual({ name: policy, version: 2 });
    expect(second.funnel[1]).toMatchObject({ removed: active200, rules: [{ name: inner, version: 2 }, { name: outer, version: 1 }] });

    // Nothing moved since: saving again writes no version; the earlier version keeps its pins.
    expect((await putPolicy()).json().version).toBe(2);
    const v1 = await ctx.app.inject({ url: `/v1/exclusion-policies/${policy}?version=1`, headers: ctx.auth('analyst') });
    expect(v1.json().rules.find((r: { name: string }) => r.name === inner)).toMatchObject({ version: 1 });
    const run = await ctx.app.inject({ url: `/v1/targeting/${afterEdit.id}`, headers: ctx.auth('analyst') });
    expect(run.json().funnel[1].rules).toEqual([{ name: inner, version: 1 }, { name: outer, version: 1 }]);
  });
});

describe('migration 0006 pins the rules of policy versions saved before it', () => {
  const url = ownDatabaseUrl();
  afterAll(async () => dropOwnDatabase(url));

  it('resolves nested rule references from the library as it stands', async () => {
    await ensureDatabase(url);
    const db = createDb(url, 2);
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      expect((await migrator.migrateTo('0005_audit_search')).error).toBeUndefined();
      const rule = (name: string, version: number, condition: unknown) =>
        sql`INSERT INTO rules (name, condition, version, source, updated_by) VALUES (${name}, ${JSON.stringify(condition)}::jsonb, ${version}, 'api', 't')`.execute(db);
      await rule('leaf', 3, { field: 'age', op: 'gte', value: 60 });
      await rule('branch', 2, { any: [{ rule: 'leaf' }, { field: 'vip_level', op: 'gte', value: 4 }] });
      await rule('unused', 1, { field: 'age', op: 'lt', value: 18 });
      await sql`INSERT INTO exclusion_policies (name, current_version, created_by, updated_by) VALUES ('old', 1, 't', 't')`.execute(db);
      const oldSteps = [{ type: 'hasProduct' }, { type: 'condition', condition: { not: { rule: 'branch' } } }];
      await sql`INSERT INTO exclusion_policy_versions (policy_name, version, steps, created_by) VALUES ('old', 1, ${JSON.stringify(oldSteps)}::jsonb, 't')`.execute(db);

      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      const pinned = await sql<{ policy_name: string; rule_pins: unknown }>`SELECT policy_name, rule_pins FROM exclusion_policy_versions ORDER BY policy_name`.execute(db);
      expect(pinned.rows).toEqual([
        { policy_name: 'default', rule_pins: [] },
        {
          policy_name: 'old',
          rule_pins: [
            { name: 'branch', version: 2, condition: { any: [{ rule: 'leaf' }, { field: 'vip_level', op: 'gte', value: 4 }] } },
            { name: 'leaf', version: 3, condition: { field: 'age', op: 'gte', value: 60 } },
          ],
        },
      ]);
      expect((await migrator.migrateTo(NO_MIGRATIONS)).error).toBeUndefined();
    } finally {
      await db.destroy();
    }
  });
});
