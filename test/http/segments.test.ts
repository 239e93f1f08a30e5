import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { multipartBody } from '../helpers/multipart.js';
import { loadSample } from '../helpers/sample.js';
import { SAMPLE_DIR } from '../../src/warehouse/sample.js';
import { SYSTEM_ACTOR, type Role } from '../../src/security/roles.js';
import { segmentMembersTable } from '../../src/warehouse/tables.js';

/** A customers row from the fixture CSV, typed by hand (empty fields are null, as the import loads them). */
interface Customer {
  customer_id: number;
  msisdn: string;
  name: string | null;
  gender: string | null;
  age: number | null;
  city: string;
  county: string;
  grid_id: string;
  brand: string;
  arpu: number | null;
  data_mb: number | null;
  is_5g_device: boolean | null;
}

function readCustomers(file: string): { header: string; lines: string[]; rows: Customer[] } {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  // The fixture has no quoted fields (checked here), so a plain split is an honest parser.
  expect(lines.every((l) => !l.includes('"'))).toBe(true);
  const names = header!.split(',');
  const rows = lines.map((line) => {
    const cells = Object.fromEntries(line.split(',').map((v, i) => [names[i]!, v === '' ? null : v]));
    const num = (v: string | null) => (v === null ? null : Number(v));
    return {
      customer_id: Number(cells.customer_id),
      msisdn: cells.msisdn!,
      name: cells.name ?? null,
      gender: cells.gender ?? null,
      age: num(cells.age ?? null),
      city: cells.city!,
      county: cells.county!,
      grid_id: cells.grid_id!,
      brand: cells.brand!,
      arpu: num(cells.arpu ?? null),
      data_mb: num(cells.data_mb ?? null),
      is_5g_device: cells.is_5g_device === null ? null : cells.is_5g_device === 'true',
    };
  });
  return { header: header!, lines, rows };
}

function countBy<T>(rows: T[], key: (row: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) out[key(row)] = (out[key(row)] ?? 0) + 1;
  return out;
}

const ids = (rows: Customer[]) => rows.map((r) => r.customer_id).sort((a, b) => a - b);
const masked = (msisdn: string) => `${msisdn.slice(0, 3)}****${msisdn.slice(-4)}`;
/** 罗宏勇 → 罗**, written out rather than taken from src/security/mask.ts. */
const maskedName = (name: string | null) => (name === null ? null : `${Array.from(name)[0] ?? ''}${'*'.repeat(Math.max(0, Array.from(name).length - 1))}`);

describe('segments over HTTP', () => {
  let ctx: TestContext;
  let customers: Customer[];
  let byId: Map<number, Customer>;

  beforeAll(async () => {
    ctx = await createTestContext();
    await loadSample(ctx);
    customers = readCustomers(path.join(SAMPLE_DIR, 'customers.csv')).rows;
    byId = new Map(customers.map((c) => [c.customer_id, c]));
  });
  afterAll(async () => ctx?.close());

  const post = (url: string, payload: unknown, role: Role = 'analyst') =>
    ctx.app.inject({ method: 'POST', url, headers: ctx.auth(role), payload: payload as object });
  const get = (url: string, role: Role = 'analyst') => ctx.app.inject({ url, headers: ctx.auth(role) });

  async function createSegment(name: string, condition: unknown): Promise<{ id: string; count: number }> {
    const res = await post('/v1/segments', { name, condition });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  async function allMembers(id: string, limit: number, role: Role = 'analyst') {
    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/segments/${id}/members?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, role);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json();
      expect(page.members.length).toBeLessThanOrEqual(limit);
      seen.push(...page.members);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    return { members: seen, pages };
  }

  describe('preview', () => {
    const condition = {
      all: [
        { field: 'arpu', op: 'gte', value: 80 },
        { any: [{ field: 'brand', op: 'eq', value: 'gotone' }, { field: 'age', op: 'lt', value: 30 }] },
      ],
    };
    const matches = (c: Customer) => c.arpu !== null && c.arpu >= 80 && (c.brand === 'gotone' || (c.age !== null && c.age < 30));

    it('counts and breaks down by city and brand exactly as a plain computation over the fixture', async () => {
      const res = await post('/v1/segments/preview', { condition });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      const expected = customers.filter(matches);
      expect(expected.length).toBeGreaterThan(50);
      expect(body.count).toBe(expected.length);
      expect(body.breakdown).toEqual({ city: countBy(expected, (c) => c.city), brand: countBy(expected, (c) => c.brand) });
      expect(typeof body.elapsedMs).toBe('number');
    });

    it('samples matching customers, masked for analysts and whole for admins', async () => {
      const analyst = (await post('/v1/segments/preview', { condition, sampleSize: 12 })).json();
      expect(analyst.sample).toHaveLength(12);
      expect(new Set(analyst.sample.map((r: { customer_id: number }) => r.customer_id)).size).toBe(12);
      for (const row of analyst.sample) {
        const customer = byId.get(row.customer_id)!;
        expect(matches(customer)).toBe(true);
        expect(row.msisdn).toBe(masked(customer.msisdn));
        expect(row.city).toBe(customer.city);
      }
      const admin = (await post('/v1/segments/preview', { condition, sampleSize: 3 }, 'admin')).json();
      for (const row of admin.sample) expect(row.msisdn).toBe(byId.get(row.customer_id)!.msisdn);
      // No breakdown: the groups name one customer, so the sample comes from its own query.
      const plain = (await post('/v1/segments/preview', { condition, breakdown: [], sampleSize: 7 })).json();
      expect(plain.breakdown).toEqual({});
      expect(plain.sample).toHaveLength(7);
      expect(new Set(plain.sample.map((r: { customer_id: number }) => r.customer_id)).size).toBe(7);
      for (const row of plain.sample) expect(matches(byId.get(row.customer_id)!)).toBe(true);
      const none = await post('/v1/segments/preview', { condition, sampleSize: 0 });
      expect(none.statusCode, none.body).toBe(200);
      expect(none.json().sample).toEqual([]);
    });

    it('breaks down by any customers column; no value counts under "(null)"; complement includes nulls', async () => {
      const res = await post('/v1/segments/preview', { condition: { not: { field: 'age', op: 'gt', value: 30 } }, breakdown: ['gender', 'is_5g_device'] });
      expect(res.statusCode, res.body).toBe(200);
      const expected = customers.filter((c) => c.age === null || c.age <= 30);
      expect(res.json()).toMatchObject({
        count: expected.length,
        breakdown: {
          gender: countBy(expected, (c) => c.gender ?? '(null)'),
          is_5g_device: countBy(expected, (c) => (c.is_5g_device === null ? '(null)' : String(c.is_5g_device))),
        },
      });
    });

    it('keeps the 100 most frequent values of a breakdown and sums the rest under "(other)"', async () => {
      const res = await post('/v1/segments/preview', { condition: { field: 'brand', op: 'ne', value: 'mzone' }, breakdown: ['grid_id'] });
      const expected = customers.filter((c) => c.brand !== 'mzone');
      const ranked = Object.entries(countBy(expected, (c) => c.grid_id)).sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : 1));
      expect(ranked.length).toBeGreaterThan(100);
      const top = Object.fromEntries(ranked.slice(0, 100));
      const other = ranked.slice(100).reduce((sum, [, n]) => sum + n, 0);
      expect(res.json().breakdown.grid_id).toEqual({ ...top, '(other)': other });
    });

    it('answers an empty set with zero counts', async () => {
      const res = await post('/v1/segments/preview', { condition: { field: 'age', op: 'gt', value: 1000 } });
      expect(res.json()).toMatchObject({ count: 0, breakdown: { city: {}, brand: {} }, sample: [] });
    });

    it('rejects bad input with 400 and the path of each problem', async () => {
      const bad = await post('/v1/segments/preview', { condition: { all: [{ field: 'arpu', op: 'gte', value: 1 }, { field: 'arpu', op: 'gte', value: 'lots' }] } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().code).toBe('BAD_CONDITION');
      expect(bad.json().errors.map((e: { path: string }) => e.path)).toContain('condition.all[1].value');

      const unknownField = await post('/v1/segments/preview', { condition: { field: 'shoe_size', op: 'eq', value: 42 } });
      expect(unknownField.statusCode).toBe(400);
      expect(unknownField.json().errors[0].path).toMatch(/^condition/);

      const missing = await post('/v1/segments/preview', {});
      expect(missing.statusCode).toBe(400);
      expect(missing.json().errors[0].path).toBe('condition');

      const breakdown = await post('/v1/segments/preview', { condition: { field: 'age', op: 'gt', value: 1 }, breakdown: ['city', 'msisdn', 'nope'] });
      expect(breakdown.statusCode).toBe(400);
      expect(breakdown.json().errors.map((e: { path: string }) => e.path)).toEqual(['breakdown[1]', 'breakdown[2]']);

      const sample = await post('/v1/segments/preview', { condition: { field: 'age', op: 'gt', value: 1 }, sampleSize: 1000 });
      expect(sample.statusCode).toBe(400);
      expect(sample.json().errors[0].path).toBe('sampleSize');

      const injection = await post('/v1/segments/preview', { condition: { field: 'city', op: 'eq', value: "广州' OR 1=1 --" } });
      expect(injection.statusCode).toBe(200);
      expect(injection.json().count).toBe(0);
    });

    it('needs a key', async () => {
      const res = await ctx.app.inject({ method: 'POST', url: '/v1/segments/preview', payload: { condition: { field: 'age', op: 'gt', value: 1 } } });
      expect(res.statusCode).toBe(401);
    });
  });

  describe('materialised segments', () => {
    const highArpu = (c: Customer) => c.arpu !== null && c.arpu >= 80;
    const heavyData = (c: Customer) => c.data_mb !== null && c.data_mb >= 5000;
    let a: { id: string; count: number };
    let b: { id: string; count: number };

    beforeAll(async () => {
      a = await createSegment(`high arpu ${Math.random()}`, { field: 'arpu', op: 'gte', value: 80 });
      b = await createSegment(`heavy data ${Math.random()}`, { field: 'data_mb', op: 'gte', value: 5000 });
    });

    it('creates with the count, status, snapshot versions and creator, and reads back the same', async () => {
      expect(a.count).toBe(customers.filter(highArpu).length);
      const res = await get(`/v1/segments/${a.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        id: a.id,
        kind: 'condition',
        status: 'ready',
        count: a.count,
        condition: { field: 'arpu', op: 'gte', value: 80 },
        snapshotVersions: { customers: 1, usage_monthly: 1 },
        createdBy: expect.stringMatching(/^test-analyst/),
        uploadReport: null,
      });
      const list = (await get('/v1/segments?limit=500')).json();
      expect(list.segments.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining([a.id, b.id]));
    });

    it('lists segments newest first, page by page, each exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await get(`/v1/segments?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.statusCode, res.body).toBe(200);
        seen.push(...res.json().segments.map((s: { id: string }) => s.id));
        cursor = res.json().nextCursor;
      } while (cursor);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.indexOf(b.id)).toBeLessThan(seen.indexOf(a.id));
      expect((await get('/v1/segments?cursor=nonsense')).statusCode).toBe(400);
    });

    it('pages through members so that every member appears exactly once, in customer_id order', async () => {
      const { members, pages } = await allMembers(a.id, 37);
      const expected = ids(customers.filter(highArpu));
      expect(pages).toBe(Math.ceil(expected.length / 37) + (expected.length % 37 === 0 ? 1 : 0));
      expect(members.map((m) => m.customer_id)).toEqual(expected);
      for (const m of members.slice(0, 50)) {
        const c = byId.get(m.customer_id as number)!;
        expect(m).toEqual({ customer_id: c.customer_id, msisdn: masked(c.msisdn), name: maskedName(c.name), city: c.city, county: c.county, grid_id: c.grid_id, brand: c.brand });
      }
      const admin = await allMembers(a.id, 500, 'admin');
      expect(admin.members.map((m) => m.msisdn)).toEqual(expected.map((id) => byId.get(id)!.msisdn));
    });

    it('exports the members as CSV, masked for analysts and whole for admins, and audits it', async () => {
      const expected = ids(customers.filter(highArpu));
      for (const role of ['analyst', 'admin'] as const) {
        const res = await get(`/v1/segments/${a.id}/export`, role);
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toContain('text/csv');
        const [header, ...lines] = res.body.replace(/^\uFEFF/, '').trim().split('\r\n');
        expect(header).toBe('customer_id,msisdn,name,city,county,grid_id,brand');
        expect(lines.map((l) => Number(l.split(',')[0]))).toEqual(expected);
        for (const line of lines) {
          const [id, msisdn, name, city] = line.split(',');
          const c = byId.get(Number(id))!;
          expect(msisdn).toBe(role === 'admin' ? c.msisdn : masked(c.msisdn));
          expect(name).toBe((role === 'admin' ? c.name : maskedName(c.name)) ?? '');
          expect(city).toBe(c.city);
        }
      }
      const audit = await ctx.container.db
        .selectFrom('audit_log')
        .select(['actor_role', 'details'])
        .where('action', '=', 'segment.export')
        .where('target_id', '=', a.id)
        .execute();
      expect(audit.map((r) => r.actor_role).sort()).toEqual(['admin', 'analyst']);
      expect(audit.find((r) => r.actor_role === 'analyst')!.details).toMatchObject({ rows: expected.length, masked: true });
    });

    it('computes union, intersection and difference through the language, as JS set algebra does', async () => {
      const inA = new Set(ids(customers.filter(highArpu)));
      const inB = new Set(ids(customers.filter(heavyData)));
      const cases: Array<[unknown, (id: number) => boolean]> = [
        [{ any: [{ segment: a.id }, { segment: b.id }] }, (id) => inA.has(id) || inB.has(id)],
        [{ all: [{ segment: a.id }, { segment: b.id }] }, (id) => inA.has(id) && inB.has(id)],
        [{ all: [{ segment: a.id }, { not: { segment: b.id } }] }, (id) => inA.has(id) && !inB.has(id)],
        [{ not: { any: [{ segment: a.id }, { segment: b.id }] } }, (id) => !inA.has(id) && !inB.has(id)],
      ];
      for (const [condition, member] of cases) {
        const expected = customers.filter((c) => member(c.customer_id));
        const preview = (await post('/v1/segments/preview', { condition })).json();
        expect(preview.count).toBe(expected.length);
        expect(preview.breakdown.brand).toEqual(countBy(expected, (c) => c.brand));
      }
      const union = await createSegment(`a or b ${Math.random()}`, cases[0]![0]);
      const { members } = await allMembers(union.id, 1000);
      expect(members.map((m) => m.customer_id)).toEqual(ids(customers.filter((c) => cases[0]![1](c.customer_id))));
      expect((await get(`/v1/segments/${union.id}`)).json().refs.segments.sort()).toEqual([a.id, b.id].sort());

      // `a` is in use by the union: 409 naming it, until the union goes.
      const refused = await ctx.app.inject({ method: 'DELETE', url: `/v1/segments/${a.id}`, headers: ctx.auth('analyst') });
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'IN_USE' });
      expect(JSON.stringify(refused.json().errors)).toContain(union.id);
      const removed = await ctx.app.inject({ method: 'DELETE', url: `/v1/segments/${union.id}`, headers: ctx.auth('analyst') });
      expect(removed.statusCode).toBe(204);
      expect((await get(`/v1/segments/${union.id}`)).statusCode).toBe(404);
      const tables = await ctx.container.warehouse.query(`SELECT table_name FROM duckdb_tables() WHERE table_name = $1`, [
        segmentMembersTable(union.id).slice(1, -1),
      ]);
      expect(tables).toEqual([]);
    });

    it('answers 404 for unknown segments and 400 for bad paging and references', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      expect((await get(`/v1/segments/${unknown}`)).statusCode).toBe(404);
      expect((await get('/v1/segments/not-a-uuid')).statusCode).toBe(404);
      expect((await get(`/v1/segments/${unknown}/members`)).statusCode).toBe(404);
      expect((await get(`/v1/segments/${unknown}/export`)).statusCode).toBe(404);
      expect((await post(`/v1/segments/${unknown}/refresh`, {})).statusCode).toBe(404);
      expect((await ctx.app.inject({ method: 'DELETE', url: `/v1/segments/${unknown}`, headers: ctx.auth('analyst') })).statusCode).toBe(404);

      const cursor = await get(`/v1/segments/${a.id}/members?cursor=bogus`);
      expect(cursor.statusCode).toBe(400);
      expect(cursor.json().errors[0].path).toBe('cursor');
      const limit = await get(`/v1/segments/${a.id}/members?limit=0`);
      expect(limit.statusCode).toBe(400);

      const dangling = await post('/v1/segments', { name: 'x', condition: { segment: unknown } });
      expect(dangling.statusCode).toBe(400);
      expect(dangling.json().errors[0].path).toBe('condition.segment');
      const noName = await post('/v1/segments', { name: '  ', condition: { field: 'age', op: 'gt', value: 1 } });
      expect(noName.statusCode).toBe(400);
      expect(noName.json().errors[0].path).toBe('name');
    });

    describe('upload', () => {
      it('builds a segment from a file of numbers and reports lines, duplicates, malformed and unknown numbers', async () => {
        const known = customers.slice(0, 5);
        const lines = [
          `\uFEFF${known[0]!.msisdn}`,
          ` ${known[1]!.msisdn} `,
          '',
          `+86${known[2]!.msisdn}`,
          known[0]!.msisdn, // duplicate
          'not a number',
          '19900000001', // valid, unknown
          known[3]!.msisdn,
          '19900000002', // valid, unknown
          '1990000',
          known[4]!.msisdn,
        ];
        const body = multipartBody({ name: 'from file' }, { filename: 'numbers.txt', content: lines.join('\r\n'), contentType: 'text/plain' });
        const res = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...body.headers }, payload: body.payload });
        expect(res.statusCode, res.body).toBe(201);
        const segment = res.json();
        expect(segment).toMatchObject({ kind: 'upload', status: 'ready', count: 5, name: 'from file', condition: null });
        expect(segment.uploadReport).toEqual({
          filename: 'numbers.txt',
          linesRead: 11,
          blankLines: 1,
          duplicates: 1,
          // Digit runs that could be (part of) a phone number are masked for analysts.
          malformed: { count: 2, first: [{ line: 6, value: 'not a number' }, { line: 10, value: '***0000' }] },
          valid: 7,
          notInWarehouse: { count: 2, first: ['199****0001', '199****0002'] },
        });
        const { members } = await allMembers(segment.id, 100);
        expect(members.map((m) => m.customer_id)).toEqual(ids(known));
        const asAdmin = (await get(`/v1/segments/${segment.id}`, 'admin')).json();
        expect(asAdmin.uploadReport.notInWarehouse.first).toEqual(['19900000001', '19900000002']);

        // An upload segment is usable in conditions like any other.
        const preview = (await post('/v1/segments/preview', { condition: { all: [{ segment: segment.id }, { field: 'brand', op: 'eq', value: known[0]!.brand }] } })).json();
        expect(preview.count).toBe(known.filter((c) => c.brand === known[0]!.brand).length);
      });

      it('refuses an upload without a name or without a file, naming the field', async () => {
        const noName = multipartBody({}, { filename: 'n.txt', content: '13800000000\n' });
        const res = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...noName.headers }, payload: noName.payload });
        expect(res.statusCode).toBe(400);
        expect(res.json().errors[0].path).toBe('name');
        const json = await post('/v1/segments/upload', { name: 'x' });
        expect(json.statusCode).toBe(415);
      });
    });

    // Last: it re-imports customers, which changes what every later test would see.
    it('refreshes on a re-import: counts before/after, added and removed, new snapshot versions', async () => {
      const sample = readCustomers(path.join(SAMPLE_DIR, 'customers.csv'));
      const names = sample.header.split(',');
      const arpuAt = names.indexOf('arpu');
      // Drop every 97th customer; lift every 50th customer's arpu above the threshold.
      const changed = sample.lines
        .filter((line) => Number(line.split(',')[0]) % 97 !== 0)
        .map((line) => {
          const cells = line.split(',');
          if (Number(cells[0]) % 50 === 0) cells[arpuAt] = '500.00';
          return cells.join(',');
        });
      writeFileSync(path.join(ctx.dir, 'customers-v2.csv'), `${sample.header}\n${changed.join('\n')}\n`);
      await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers-v2.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);

      const after = readCustomers(path.join(ctx.dir, 'customers-v2.csv')).rows;
      const oldIds = new Set(ids(customers.filter(highArpu)));
      const newIds = new Set(ids(after.filter(highArpu)));
      const res = await post(`/v1/segments/${a.id}/refresh`, {});
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        before: oldIds.size,
        after: newIds.size,
        added: [...newIds].filter((id) => !oldIds.has(id)).length,
        removed: [...oldIds].filter((id) => !newIds.has(id)).length,
        snapshotVersionsBefore: { customers: 1 },
        segment: { status: 'ready', count: newIds.size, snapshotVersions: { customers: 2 } },
      });
      expect(body.added).toBeGreaterThan(0);
      expect(body.removed).toBeGreaterThan(0);
      const { members } = await allMembers(a.id, 1000);
      expect(members.map((m) => m.customer_id)).toEqual([...newIds].sort((x, y) => x - y));
    });
  });
});

describe('segment uploads at the limits, upload refresh and the CLI', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext({ UPLOAD_MAX_BYTES: '64' });
    await loadSample(ctx);
  });
  afterAll(async () => ctx?.close());

  it('answers 413 for a file over UPLOAD_MAX_BYTES and leaves nothing in the upload folder', async () => {
    const body = multipartBody({ name: 'too big' }, { filename: 'n.txt', content: '13800000000\n'.repeat(10) });
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...body.headers }, payload: body.payload });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
    const { readdirSync, existsSync } = await import('node:fs');
    expect(existsSync(ctx.config.UPLOAD_DIR) ? readdirSync(ctx.config.UPLOAD_DIR) : []).toEqual([]);
    const names = await ctx.container.db.selectFrom('segments').select('name').where('name', '=', 'too big').execute();
    expect(names).toEqual([]);
  });

  it('refreshes an upload segment against re-imported customers: numbers that became customers join', async () => {
    const sample = readCustomers(path.join(SAMPLE_DIR, 'customers.csv'));
    const [first, second] = sample.rows;
    const newcomer = '19912345678';
    const body = multipartBody({ name: 'vip file' }, { filename: 'v.txt', content: `${first!.msisdn}\n${newcomer}\n` });
    const created = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('admin'), ...body.headers }, payload: body.payload });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ count: 1, uploadReport: { notInWarehouse: { count: 1, first: [newcomer] } } });

    // Customer 2 takes the newcomer's number in the next customers import.
    const msisdnAt = sample.header.split(',').indexOf('msisdn');
    const lines = sample.lines.map((line) => {
      const cells = line.split(',');
      if (Number(cells[0]) === second!.customer_id) cells[msisdnAt] = newcomer;
      return cells.join(',');
    });
    writeFileSync(path.join(ctx.dir, 'customers-v2.csv'), `${sample.header}\n${lines.join('\n')}\n`);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers-v2.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);

    const refreshed = await ctx.app.inject({ method: 'POST', url: `/v1/segments/${created.json().id}/refresh`, headers: ctx.auth('analyst') });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    expect(refreshed.json()).toMatchObject({
      before: 1,
      after: 2,
      added: 1,
      removed: 0,
      segment: { count: 2, uploadReport: { linesRead: 2, notInWarehouse: { count: 0, first: [] } } },
    });
  });

  it('exports text that a spreadsheet would run as a formula as plain text', async () => {
    const current = readCustomers(path.join(ctx.dir, 'customers-v2.csv'));
    const nameAt = current.header.split(',').indexOf('name');
    const target = current.rows[2]!;
    const lines = current.lines.map((line) => {
      const cells = line.split(',');
      if (Number(cells[0]) === target.customer_id) cells[nameAt] = '=HYPERLINK("x")';
      return cells.join(',');
    });
    // The name holds quotes, so this row is written the way CSV quotes them.
    const quoted = lines.map((line) => line.replace('=HYPERLINK("x")', '"=HYPERLINK(""x"")"'));
    writeFileSync(path.join(ctx.dir, 'customers-v3.csv'), `${current.header}\n${quoted.join('\n')}\n`);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers-v3.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
    const segment = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('analyst'),
      payload: { name: 'formula', condition: { field: 'name', op: 'starts_with', value: '=' } },
    });
    expect(segment.json().count).toBe(1);
    const csv = await ctx.app.inject({ url: `/v1/segments/${segment.json().id}/export`, headers: ctx.auth('admin') });
    expect(csv.body.trim().split('\r\n')[1]).toBe(
      `${target.customer_id},${target.msisdn},"'=HYPERLINK(""x"")",${target.city},${target.county},${target.grid_id},${target.brand}`,
    );
  });

  it('previews and creates from the command line', async () => {
    const { segmentCommand } = await import('../../src/segments/segment.cli.js');
    const printed: string[] = [];
    const log = console.log;
    const table = console.table;
    console.log = (...args: unknown[]) => void printed.push(args.join(' '));
    console.table = (rows: unknown) => void printed.push(JSON.stringify(rows));
    try {
      await segmentCommand.run(['preview', '{"field":"brand","op":"eq","value":"mzone"}'], ctx.container);
      await segmentCommand.run(['create', 'cli mzone', '{"field":"brand","op":"eq","value":"mzone"}'], ctx.container);
    } finally {
      console.log = log;
      console.table = table;
    }
    const mzone = readCustomers(path.join(ctx.dir, 'customers-v2.csv')).rows.filter((c) => c.brand === 'mzone').length;
    // customers-v3 changed one name only, so the brands are those of v2.
    expect(printed[0]).toMatch(new RegExp(`^count: ${mzone} `));
    expect(printed.some((p) => p.includes('"brand":"mzone"') && p.includes(`"customers":${mzone}`))).toBe(true);
    expect(printed.at(-1)).toMatch(new RegExp(`"cli mzone": ${mzone} members \\(ready\\)$`));
  });
});
