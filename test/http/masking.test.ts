import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSample } from '../helpers/sample.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

type Role = 'analyst' | 'operator' | 'scheduler' | 'admin';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const WHOLE_NUMBER = /(?<!\d)1[3-9]\d{9}(?!\d)/g;

/** Whole mobile numbers in an answer (ids removed first: their hex groups can hold digit runs). */
const wholeNumbers = (body: string) => body.replace(UUID, '').match(WHOLE_NUMBER) ?? [];

/** Customers of the checked-in sample, read straight from the CSV rather than through the service. */
function sampleCustomers(): Array<{ id: number; msisdn: string; name: string; age: number }> {
  const [header, ...rows] = readFileSync('fixtures/sample/customers.csv', 'utf8').trim().split('\n');
  const cols = header!.split(',');
  const at = (name: string) => cols.indexOf(name);
  return rows.map((line) => {
    const f = line.split(',');
    return { id: Number(f[at('customer_id')]), msisdn: f[at('msisdn')]!, name: f[at('name')]!, age: Number(f[at('age')]) };
  });
}

describe('phone numbers in answers and exports', () => {
  let ctx: TestContext;
  const customers = sampleCustomers();
  // Customers aged exactly 33: a small, hand-checkable segment.
  const chosen = customers.filter((c) => c.age === 33);
  let segmentId = '';

  beforeAll(async () => {
    ctx = await createTestContext({ RATE_LIMIT_PER_MINUTE: '100000' });
    await loadSample(ctx);
    const created = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('analyst'),
      payload: { name: `age33-${randomUUID().slice(0, 8)}`, condition: { field: 'age', op: 'eq', value: 33 } },
    });
    expect(created.statusCode).toBe(201);
    segmentId = created.json().id;
  });
  afterAll(async () => ctx?.close());

  it('the chosen segment is what the CSV says', () => {
    expect(chosen.length).toBeGreaterThan(3);
  });

  const roles: Role[] = ['analyst', 'operator', 'scheduler', 'admin'];

  it('members pages: whole numbers for admins only', async () => {
    for (const role of roles) {
      const res = await ctx.app.inject({ url: `/v1/segments/${segmentId}/members?limit=10000`, headers: ctx.auth(role) });
      expect(res.statusCode).toBe(200);
      const found = wholeNumbers(res.body).sort();
      if (role === 'admin') expect(found).toEqual(chosen.map((c) => c.msisdn).sort());
      else {
        expect(found, role).toEqual([]);
        for (const c of chosen) expect(res.body).toContain(`${c.msisdn.slice(0, 3)}****${c.msisdn.slice(-4)}`);
      }
    }
  });

  it('CSV exports: whole numbers for admins only', async () => {
    for (const role of roles) {
      const res = await ctx.app.inject({ url: `/v1/segments/${segmentId}/export`, headers: ctx.auth(role) });
      expect(res.statusCode).toBe(200);
      const found = wholeNumbers(res.body).sort();
      if (role === 'admin') expect(found).toEqual(chosen.map((c) => c.msisdn).sort());
      else expect(found, role).toEqual([]);
    }
  });

  it('previews: the sample is masked for everyone but admins', async () => {
    for (const role of roles) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/v1/segments/preview',
        headers: ctx.auth(role),
        payload: { condition: { field: 'age', op: 'eq', value: 33 } },
      });
      expect(res.statusCode).toBe(200);
      if (role !== 'admin') expect(wholeNumbers(res.body), role).toEqual([]);
    }
  });

  it('names: the surname and one * per other character for everyone but admins, in pages, exports and previews', async () => {
    // Written out here rather than with maskName: 罗宏勇 → 罗**.
    const masked = (name: string) => `${Array.from(name)[0]}${'*'.repeat(Array.from(name).length - 1)}`;
    const named = chosen.filter((c) => Array.from(c.name).length >= 2);
    expect(named.length).toBeGreaterThan(3);
    for (const role of roles) {
      const answers = [
        await ctx.app.inject({ url: `/v1/segments/${segmentId}/members?limit=10000`, headers: ctx.auth(role) }),
        await ctx.app.inject({ url: `/v1/segments/${segmentId}/export`, headers: ctx.auth(role) }),
        await ctx.app.inject({
          method: 'POST',
          url: '/v1/segments/preview',
          headers: ctx.auth(role),
          payload: { condition: { field: 'age', op: 'eq', value: 33 }, sampleSize: 100 },
        }),
      ];
      for (const [i, res] of answers.entries()) {
        const where = `${role} ${['members', 'export', 'preview'][i]}`;
        expect(res.statusCode).toBe(200);
        for (const c of named) {
          if (role === 'admin') expect(res.body, where).toContain(c.name);
          else {
            expect(res.body, where).not.toContain(c.name);
            expect(res.body, where).toContain(masked(c.name));
          }
        }
      }
    }
  });

  it('list entries: masked in every answer for non-admins, whole for admins', async () => {
    const numbers = chosen.slice(0, 3).map((c) => c.msisdn);
    const added = await ctx.app.inject({
      method: 'POST',
      url: '/v1/lists/greylist/entries',
      headers: ctx.auth('operator'),
      payload: { msisdns: numbers, reason: 'masking test' },
    });
    expect(added.statusCode).toBeLessThan(300);
    expect(wholeNumbers(added.body)).toEqual([]);
    for (const role of roles) {
      const res = await ctx.app.inject({ url: '/v1/lists/greylist/entries?limit=1000', headers: ctx.auth(role) });
      expect(res.statusCode).toBe(200);
      const found = wholeNumbers(res.body);
      if (role === 'admin') expect(found).toEqual(expect.arrayContaining(numbers));
      else expect(found, role).toEqual([]);
      const lookup = await ctx.app.inject({ url: `/v1/lists/greylist/entries?msisdn=${numbers[0]}`, headers: ctx.auth(role) });
      expect(lookup.statusCode).toBe(200);
      if (role !== 'admin') expect(wholeNumbers(lookup.body), role).toEqual([]);
    }
    const removed = await ctx.app.inject({ method: 'DELETE', url: `/v1/lists/greylist/entries/${numbers[0]}`, headers: ctx.auth('operator') });
    expect(removed.statusCode).toBe(200);
    expect(wholeNumbers(removed.body)).toEqual([]);
  });
});
