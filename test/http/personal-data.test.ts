import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSample } from '../helpers/sample.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

type Role = 'analyst' | 'operator' | 'scheduler' | 'admin';

// Customer 2 of fixtures/sample/customers.csv: 15914037193, 罗宏勇.
const CUSTOMER = { all: [{ field: 'customer_id', op: 'eq', value: 2 }] };
const pinned = (comparison: object) => ({ all: [...CUSTOMER.all, comparison] });
const GUESS = { field: 'msisdn', op: 'starts_with', value: '1591' };

describe('comparisons that could unmask personal data', () => {
  let ctx: TestContext;
  const suffix = randomUUID().slice(0, 8);

  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '100000' });
    await loadSample(ctx);
  });
  afterAll(async () => ctx?.close());

  const preview = (condition: unknown, role: Role) =>
    ctx.app.inject({ method: 'POST', url: '/v1/segments/preview', headers: ctx.auth(role), payload: { condition, sampleSize: 0 } });
  const putRule = (name: string, condition: unknown, role: Role) =>
    ctx.app.inject({ method: 'PUT', url: `/v1/rules/${name}`, headers: ctx.auth(role), payload: { description: 'guess', condition } });
  const putPolicy = (name: string, condition: unknown, role: Role) =>
    ctx.app.inject({
      method: 'PUT',
      url: `/v1/exclusion-policies/${name}`,
      headers: ctx.auth(role),
      payload: { steps: [{ type: 'condition', condition }] },
    });

  it('refuses the prefix guess of the issue to every role but admin, naming the node', async () => {
    for (const role of ['analyst', 'operator', 'scheduler'] as const) {
      const res = await preview(pinned(GUESS), role);
      expect(res.statusCode, role).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'FORBIDDEN', errors: [{ path: 'condition.all[1]' }] });
    }
    const admin = await preview(pinned(GUESS), 'admin');
    expect(admin.statusCode).toBe(200);
    expect(admin.json().count).toBe(1);
  });

  it('refuses it inside not and any, and for names; keeps the 号段, whole numbers and the surname', async () => {
    const nested = await preview({ all: [...CUSTOMER.all, { not: { any: [{ field: 'age', op: 'lt', value: 0 }, GUESS] } }] }, 'analyst');
    expect(nested.statusCode).toBe(403);
    expect(nested.json().errors[0].path).toBe('condition.all[1].not.any[1]');
    const name = await preview(pinned({ field: 'name', op: 'starts_with', value: '罗宏' }), 'analyst');
    expect(name.statusCode).toBe(403);

    const allowed = [
      { field: 'msisdn', op: 'starts_with', value: '159' },
      { field: 'msisdn', op: 'eq', value: '15914037193' },
      { field: 'msisdn', op: 'in', value: ['15914037193', '13800138000'] },
      { field: 'name', op: 'starts_with', value: '罗' },
      { field: 'name', op: 'not_null' },
    ];
    for (const comparison of allowed) {
      const res = await preview(pinned(comparison), 'analyst');
      expect(res.statusCode, JSON.stringify(comparison)).toBe(200);
      expect(res.json().count).toBe(1);
    }
  });

  it('refuses segments made that way, and refreshing one for a caller who may not', async () => {
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('analyst'),
      payload: { name: `guess-${suffix}`, condition: pinned(GUESS) },
    });
    expect(created.statusCode).toBe(403);
    const byAdmin = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('admin'),
      payload: { name: `guess-admin-${suffix}`, condition: pinned(GUESS) },
    });
    expect(byAdmin.statusCode).toBe(201);
    const refresh = (role: Role) => ctx.app.inject({ method: 'POST', url: `/v1/segments/${byAdmin.json().id}/refresh`, headers: ctx.auth(role) });
    const refused = await refresh('analyst');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().errors[0].path).toBe('condition.all[1]');
    expect((await refresh('admin')).statusCode).toBe(200);
  });

  it('checks saved rules for the caller when they are used, whoever saved them', async () => {
    const rule = `guess-${suffix}`;
    expect((await putRule(rule, GUESS, 'analyst')).statusCode).toBe(403);
    expect((await putRule(rule, GUESS, 'admin')).statusCode).toBeLessThan(300);
    const wrapper = `wrap-${suffix}`;
    // An analyst may not even save a rule that reaches it.
    expect((await putRule(wrapper, { any: [{ rule }] }, 'analyst')).statusCode).toBe(403);

    const used = await preview(pinned({ rule }), 'analyst');
    expect(used.statusCode).toBe(403);
    expect(used.json().errors[0].path).toBe('condition.all[1].rule');
    expect(used.json().errors[0].message).toContain(rule);
    expect((await preview(pinned({ rule }), 'admin')).statusCode).toBe(200);
  });

  it('checks condition steps of exclusion policies when saved and when run', async () => {
    const refused = await putPolicy(`p-guess-${suffix}`, pinned(GUESS), 'operator');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().errors[0].path).toBe('steps[0].condition.all[1]');

    const policy = `p-admin-${suffix}`;
    expect((await putPolicy(policy, pinned(GUESS), 'admin')).statusCode).toBeLessThan(300);
    const segment = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('admin'),
      payload: { name: `one-${suffix}`, condition: CUSTOMER },
    });
    expect(segment.statusCode).toBe(201);
    const run = (role: Role) =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/targeting/preview',
        headers: ctx.auth(role),
        payload: { segmentId: segment.json().id, policy, controlGroupPercent: 0 },
      });
    const operatorRun = await run('operator');
    expect(operatorRun.statusCode).toBe(403);
    expect(operatorRun.json().errors[0].path).toBe('policy.steps[0].condition.all[1]');
    const adminRun = await run('admin');
    expect(adminRun.statusCode).toBe(200);
  });
});
