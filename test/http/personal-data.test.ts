import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody } from '../helpers/multipart.js';
import { loadSample } from '../helpers/sample.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

type Role = 'analyst' | 'operator' | 'scheduler' | 'admin';

// Customer 2 of fixtures/sample/customers.csv: 15914037193, 罗宏勇.
const CUSTOMER = { all: [{ field: 'customer_id', op: 'eq', value: 2 }] };
const pinned = (comparison: object) => ({ all: [...CUSTOMER.all, comparison] });
const GUESS = { field: 'msisdn', op: 'starts_with', value: '1591' };

describe('comparisons that could unmask personal data', () => {
  let ctx: TestContext;
  // Starts with a letter: digits glued to letters are a name, never masked as a number would be.
  const suffix = `t${randomUUID().slice(0, 8)}`;

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

describe('numbers in free text, whatever the separators', () => {
  let ctx: TestContext;
  const suffix = randomUUID().slice(0, 8).replace(/-/g, '');
  // Customer 2's number as people write it; none of these may reach a masked role whole.
  const HIDDEN = '1403';
  const digitsOf = (text: string) => text.replace(/[^0-9*]/g, '');
  /** True when the text holds customer 2's middle digits, however they are separated. */
  const leaks = (text: string) => digitsOf(text).includes(`159${HIDDEN}`) || /1403[ .\-]?7193/.test(text);

  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '100000' });
    await loadSample(ctx);
  });
  afterAll(async () => ctx?.close());

  it('masks rejected cells in the import history for analysts', async () => {
    const [header, , second] = readFileSync('fixtures/sample/customers.csv', 'utf8').split('\n');
    const cols = header!.split(',');
    const cells = second!.split(',');
    cells[cols.indexOf('msisdn')] = '8615914037193';
    writeFileSync(path.join(ctx.dir, `bad-${suffix}.csv`), `${header}\n${cells.join(',')}\n`);
    const rejected = await ctx.app.inject({
      method: 'POST',
      url: '/v1/imports',
      headers: ctx.auth('admin'),
      payload: { dataset: 'customers', path: `bad-${suffix}.csv`, format: 'csv', mode: 'append' },
    });
    expect(rejected.statusCode).toBe(422);
    expect(rejected.body).toContain('8615914037193');
    const id = rejected.json().importId as string;

    const analyst = await ctx.app.inject({ url: `/v1/imports/${id}`, headers: ctx.auth('analyst') });
    expect(analyst.statusCode).toBe(200);
    expect(leaks(analyst.body), analyst.body).toBe(false);
    expect(analyst.json().errors.map((e: { message: string }) => e.message)).toContain('"86159****7193" does not match the expected format');
    const history = await ctx.app.inject({ url: '/v1/imports?dataset=customers', headers: ctx.auth('analyst') });
    expect(leaks(history.body)).toBe(false);
    const admin = await ctx.app.inject({ url: `/v1/imports/${id}`, headers: ctx.auth('admin') });
    expect(admin.body).toContain('8615914037193');
  });

  it('masks numbers in error answers, as the URL or a message quotes them', async () => {
    for (const url of ['/v1/nowhere/159-1403-7193', '/v1/nowhere/%2B86%20159%201403%207193', '/v1/nowhere/159.1403.7193']) {
      const res = await ctx.app.inject({ url, headers: ctx.auth('analyst') });
      expect(res.statusCode).toBe(404);
      expect(leaks(decodeURIComponent(res.body)), res.body).toBe(false);
    }
  });

  it('masks dashed numbers in upload reports', async () => {
    const body = multipartBody(
      { name: `dashed-${suffix}` },
      { filename: 'numbers.txt', content: ['15159601432', '159-1403-7193', '+86 159 1403 7193 (家)', '159.1403.7193'].join('\n'), contentType: 'text/plain' },
    );
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...body.headers }, payload: body.payload });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().uploadReport.malformed.first.map((m: { value: string }) => m.value)).toEqual(['159-****-7193', '+86 159 **** 7193 (家)', '159.****.7193']);
    expect(leaks(res.body)).toBe(false);
    const again = await ctx.app.inject({ url: `/v1/segments/${res.json().id}`, headers: ctx.auth('admin') });
    expect(again.json().uploadReport.malformed.first[0].value).toBe('159-1403-7193');
  });

  it('masks list reasons and explain evidence; explain is for operators', async () => {
    const list = `t_${suffix}`;
    expect((await ctx.app.inject({ method: 'POST', url: '/v1/lists', headers: ctx.auth('operator'), payload: { name: list, label: 'complaints by phone' } })).statusCode).toBeLessThan(300);
    const reason = '家属来电 159-1403-7193 投诉, 回拨 +86 159 1403 7193';
    const added = await ctx.app.inject({
      method: 'POST',
      url: `/v1/lists/${list}/entries`,
      headers: ctx.auth('operator'),
      payload: { msisdns: ['15914037193'], reason },
    });
    expect(added.statusCode).toBeLessThan(300);
    expect(leaks(added.body)).toBe(false);
    for (const role of ['analyst', 'operator', 'admin'] as const) {
      const entries = await ctx.app.inject({ url: `/v1/lists/${list}/entries?limit=10`, headers: ctx.auth(role) });
      expect(entries.statusCode).toBe(200);
      if (role === 'admin') expect(entries.body).toContain(reason);
      else expect(leaks(entries.body), role).toBe(false);
    }

    const policy = `p-${suffix}`;
    const put = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/exclusion-policies/${policy}`,
      headers: ctx.auth('operator'),
      payload: { steps: [{ type: 'list', list, label: 'called 159-1403-7193' }] },
    });
    expect(put.statusCode).toBeLessThan(300);
    const segment = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('operator'),
      payload: { name: `two-${suffix}`, condition: { field: 'customer_id', op: 'in', value: [1, 2] } },
    });
    const run = await ctx.app.inject({
      method: 'POST',
      url: '/v1/targeting/preview',
      headers: ctx.auth('operator'),
      payload: { segmentId: segment.json().id, policy, controlGroupPercent: 0 },
    });
    expect(run.statusCode, run.body).toBe(200);
    const explain = (role: Role) => ctx.app.inject({ url: `/v1/targeting/${run.json().id}/explain?msisdn=15914037193`, headers: ctx.auth(role) });

    expect((await explain('analyst')).statusCode).toBe(403);
    expect((await explain('scheduler')).statusCode).toBe(403);
    const operator = await explain('operator');
    expect(operator.statusCode).toBe(200);
    expect(operator.json()).toMatchObject({ outcome: 'excluded', msisdn: '159****7193', evidence: { kind: 'list', list } });
    expect(leaks(operator.body), operator.body).toBe(false);
    expect(operator.json().evidence.reason).toBe('家属来电 159-****-7193 投诉, 回拨 +86 159 **** 7193');
    const admin = await explain('admin');
    expect(admin.json().evidence.reason).toBe(reason);
  });
});
