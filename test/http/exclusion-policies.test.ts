import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

describe('exclusion policies over HTTP', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  const put = (name: string, payload: unknown, role: 'operator' | 'analyst' = 'operator') =>
    ctx.app.inject({ method: 'PUT', url: `/v1/exclusion-policies/${name}`, headers: ctx.auth(role), payload: payload as object });
  const policyName = () => `p-${randomUUID().slice(0, 8)}`;
  const versions = (name: string) =>
    ctx.container.db.selectFrom('exclusion_policy_versions').select('version').where('policy_name', '=', name).execute();

  it('has the default policy of DESIGN.md out of the box', async () => {
    const res = await ctx.app.inject({ url: '/v1/exclusion-policies/default', headers: ctx.auth('analyst') });
    expect(res.statusCode).toBe(200);
    expect(res.json().steps).toEqual([
      { type: 'list', list: 'blacklist' },
      { type: 'list', list: 'complaint' },
      { type: 'list', list: 'opt_out' },
      { type: 'list', list: 'dnd' },
      { type: 'list', list: 'greylist' },
      { type: 'recentContact', days: 7, sameCategory: false },
      { type: 'recentContact', days: 30, sameCategory: true },
      { type: 'hasProduct' },
      { type: 'condition', label: 'status≠active', condition: { not: { field: 'status', op: 'eq', value: 'active' } } },
    ]);
    const all = await ctx.app.inject({ url: '/v1/exclusion-policies', headers: ctx.auth('analyst') });
    expect(all.json().policies.find((p: { name: string }) => p.name === 'default')).toMatchObject({ version: 1, steps: 9 });
  });

  it('creates, versions and audits a policy; an identical PUT writes nothing', async () => {
    const name = policyName();
    const steps = [{ type: 'list', list: 'blacklist', label: '黑名单' }, { type: 'recentContact', days: 14 }];
    const created = await put(name, { description: 'first', steps });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name, version: 1, steps: [steps[0], { type: 'recentContact', days: 14, sameCategory: false }] });

    const same = await put(name, { description: 'first', steps });
    expect(same.statusCode).toBe(200);
    expect(same.json().version).toBe(1);

    const changed = await put(name, { steps: [...steps, { type: 'hasProduct' }] });
    expect(changed.json()).toMatchObject({ version: 2, description: 'first' });
    expect((await versions(name)).map((v) => v.version).sort()).toEqual([1, 2]);
    const v1 = await ctx.app.inject({ url: `/v1/exclusion-policies/${name}?version=1`, headers: ctx.auth('analyst') });
    expect(v1.json().steps).toHaveLength(2);

    const audit = await ctx.container.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target_type', '=', 'exclusion_policy')
      .where('target_id', '=', name)
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.action)).toEqual(['exclusion_policy.create', 'exclusion_policy.update']);
    expect(audit[1]!.before).toMatchObject({ version: 1, steps: [{ list: 'blacklist' }, { days: 14 }] });
    expect(audit[1]!.after).toMatchObject({ version: 2 });
    expect(audit[1]!.actor).toMatch(/^test-operator/);
  });

  it('rejects bad steps with their paths and changes nothing', async () => {
    const name = policyName();
    await put(name, { steps: [{ type: 'hasProduct' }] });

    const unknownType = await put(name, { steps: [{ type: 'hasProduct' }, { type: 'teleport' }] });
    expect(unknownType.statusCode).toBe(400);
    expect(unknownType.json().errors[0]).toMatchObject({ path: expect.stringMatching(/^steps\[1\]/), message: expect.stringContaining('unknown step type') });

    const negative = await put(name, { steps: [{ type: 'recentContact', days: -3 }] });
    expect(negative.statusCode).toBe(400);
    expect(negative.json().errors.map((e: { path: string }) => e.path)).toEqual(['steps[0].days']);

    const unknownList = await put(name, {
      steps: [{ type: 'list', list: 'nosuchlist' }, { type: 'hasProduct' }, { type: 'upload', listId: 'blacklist' }],
    });
    expect(unknownList.statusCode).toBe(400);
    expect(unknownList.json().errors.map((e: { path: string }) => e.path)).toEqual(['steps[0].list', 'steps[2].listId']);

    const badCondition = await put(name, {
      steps: [{ type: 'hasProduct' }, { type: 'condition', condition: { field: 'no_such_column', op: 'eq', value: 1 } }],
    });
    expect(badCondition.statusCode).toBe(400);
    expect(badCondition.json().code).toBe('BAD_CONDITION');
    expect(badCondition.json().errors[0].path).toMatch(/^steps\[1\]\.condition/);

    const analyst = await put(name, { steps: [{ type: 'hasProduct' }, { type: 'hasProduct' }] }, 'analyst');
    expect(analyst.statusCode).toBe(403);

    expect((await versions(name)).map((v) => v.version)).toEqual([1]);
    const current = await ctx.app.inject({ url: `/v1/exclusion-policies/${name}`, headers: ctx.auth('analyst') });
    expect(current.json()).toMatchObject({ version: 1, steps: [{ type: 'hasProduct' }] });
  });

  it('answers 404 for an unknown policy or version', async () => {
    expect((await ctx.app.inject({ url: '/v1/exclusion-policies/nope-nope', headers: ctx.auth('analyst') })).statusCode).toBe(404);
    expect((await ctx.app.inject({ url: '/v1/exclusion-policies/default?version=99', headers: ctx.auth('analyst') })).statusCode).toBe(404);
  });
});
