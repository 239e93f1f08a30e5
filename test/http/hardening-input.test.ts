import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { multipartBody } from '../helpers/multipart.js';
import { loadSample } from '../helpers/sample.js';

const NUL = '\u0000';
const LONE_HIGH = '\uD800';
const LONE_LOW = '\uDC00';

/** Bad input is the client's mistake: every answer here is a 4xx problem, never a 500. */
describe('bad input is answered 4xx, never 500', () => {
  let ctx: TestContext;
  const id = () => randomUUID().slice(0, 8);
  beforeAll(async () => {
    ctx = await createTestContext();
    await loadSample(ctx);
  });
  afterAll(async () => ctx?.close());

  const send = (method: 'POST' | 'PUT', url: string, payload: unknown, role: 'analyst' | 'operator' | 'admin' = 'operator') =>
    ctx.app.inject({ method, url, headers: ctx.auth(role), payload: payload as object });
  const expectPathProblem = (res: { statusCode: number; headers: Record<string, unknown>; json(): any }, path: string) => {
    expect(res.statusCode, JSON.stringify(res.json())).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().errors).toContainEqual({ path, message: expect.stringMatching(/NUL|surrogate/) });
  };
  const validCondition = { field: 'city', op: 'eq', value: '深圳' };

  it('refuses NUL bytes and lone surrogates in JSON bodies, naming the JSON path', async () => {
    expectPathProblem(await send('POST', '/v1/segments', { name: `a${NUL}b`, condition: validCondition }, 'analyst'), 'name');
    expectPathProblem(await send('POST', '/v1/segments', { name: `x${LONE_HIGH}y`, condition: validCondition }, 'analyst'), 'name');
    expectPathProblem(
      await send('POST', '/v1/segments', { name: 'fine', condition: { all: [validCondition, { field: 'city', op: 'eq', value: `深${NUL}` }] } }, 'analyst'),
      'condition.all[1].value',
    );
    expectPathProblem(
      await send('POST', '/v1/segments/preview', { condition: { field: 'city', op: 'in', value: ['深圳', `${LONE_LOW}x`] } }, 'analyst'),
      'condition.value[1]',
    );
    expectPathProblem(await send('PUT', `/v1/rules/nul-${id()}`, { description: `d${NUL}`, condition: validCondition }, 'analyst'), 'description');
    expectPathProblem(await send('POST', '/v1/lists', { name: `l_${id()}`, label: `label${LONE_HIGH}` }), 'label');
    expectPathProblem(await send('POST', '/v1/lists/blacklist/entries', { msisdns: ['13800138000'], reason: `why${NUL}` }), 'reason');
    expectPathProblem(
      await send('PUT', `/v1/exclusion-policies/p-${id()}`, { steps: [{ type: 'hasProduct' }, { type: 'hasProduct', label: `h${NUL}` }] }),
      'steps[1].label',
    );
    expectPathProblem(
      await send('PUT', `/v1/exclusion-policies/p-${id()}`, { steps: [{ type: 'condition', condition: { not: { field: 'city', op: 'eq', value: `a${LONE_HIGH}` } } }] }),
      'steps[0].condition.not.value',
    );
    // In a key, not a value: the path names the object holding it.
    expectPathProblem(await send('POST', '/v1/segments/preview', { condition: { [`fi${NUL}eld`]: 'city' } }, 'analyst'), 'condition');
  });

  it('refuses them in query filters and multipart fields', async () => {
    const audit = await ctx.app.inject({ url: `/v1/audit?actor=${encodeURIComponent(`a${NUL}b`)}`, headers: ctx.auth('admin') });
    expectPathProblem(audit, 'actor');
    const entries = await ctx.app.inject({ url: `/v1/lists/blacklist/entries?msisdn=${encodeURIComponent(`138${NUL}`)}`, headers: ctx.auth('analyst') });
    expectPathProblem(entries, 'msisdn');

    const name = `upload ${id()}${NUL}`;
    const body = multipartBody({ name }, { filename: 'numbers.txt', content: '15914037193\n' });
    const upload = await ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...body.headers }, payload: body.payload });
    expectPathProblem(upload, 'name');
    const listUpload = multipartBody({ reason: `r${NUL}` }, { filename: 'numbers.txt', content: '15914037193\n' });
    const listRes = await ctx.app.inject({
      method: 'POST',
      url: '/v1/lists/blacklist/upload',
      headers: { ...ctx.auth('operator'), ...listUpload.headers },
      payload: listUpload.payload,
    });
    expectPathProblem(listRes, 'reason');
  });

  it('answers malformed multipart with 400, and a second file with 400 naming its field', async () => {
    const post = (contentType: string, payload: Buffer | string) =>
      ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), 'content-type': contentType }, payload });
    const good = multipartBody({ name: `m ${id()}` }, { filename: 'numbers.txt', content: '15914037193\n' });

    const noBoundary = await post('multipart/form-data', good.payload);
    expect(noBoundary.statusCode).toBe(400);
    expect(noBoundary.headers['content-type']).toContain('application/problem+json');

    const wrongBoundary = await post('multipart/form-data; boundary=not-the-one-used', good.payload);
    expect(wrongBoundary.statusCode).toBe(400);

    const truncated = await post(good.headers['content-type'], good.payload.subarray(0, good.payload.length - 30));
    expect(truncated.statusCode).toBe(400);

    const cut = good.payload.indexOf(Buffer.from('Content-Disposition')) + 10;
    const headerCut = await post(good.headers['content-type'], good.payload.subarray(0, cut));
    expect(headerCut.statusCode).toBe(400);

    const boundary = 'twofilesboundary';
    const part = (field: string, filename: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: text/plain\r\n\r\n15914037193\r\n`;
    const twoFiles = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\ntwo files\r\n${part('file', 'a.txt')}${part('extra', 'b.txt')}--${boundary}--\r\n`,
    );
    const two = await post(`multipart/form-data; boundary=${boundary}`, twoFiles);
    expect(two.statusCode).toBe(400);
    expect(two.json().errors).toEqual([{ path: 'extra', message: expect.stringContaining('one file') }]);
  });

  it('takes the documented 100,000 numbers in one list request', async () => {
    const list = `bulk_${id()}`;
    expect((await send('POST', '/v1/lists', { name: list, label: 'bulk' })).statusCode).toBe(201);
    const msisdns = Array.from({ length: 100_000 }, (_, i) => `139${String(i).padStart(8, '0')}`);
    const res = await send('POST', `/v1/lists/${list}/entries`, { msisdns, reason: 'bulk load of the documented maximum' });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    expect(res.json()).toMatchObject({ numbers: 100_000, added: 100_000 });
  }, 120_000);

  it('makes no segment, not even a failed one, from a file without a valid phone number', async () => {
    const upload = async (name: string, content: string) => {
      const body = multipartBody({ name }, { filename: 'numbers.txt', content });
      return ctx.app.inject({ method: 'POST', url: '/v1/segments/upload', headers: { ...ctx.auth('analyst'), ...body.headers }, payload: body.payload });
    };
    const rowsNamed = (name: string) => ctx.container.db.selectFrom('segments').select(['id', 'status']).where('name', '=', name).execute();

    for (const [what, content] of [
      ['empty', ''],
      ['blank lines', '\n  \n\n'],
      ['all invalid', 'hello\n12345\n138-0013-8000\n'],
      ['a NUL byte', `159140${NUL}37193\n`],
    ] as const) {
      const name = `refused ${what} ${id()}`;
      const res = await upload(name, content);
      expect(res.statusCode, `${what}: ${res.body}`).toBe(400);
      expect(res.json().errors, what).toContainEqual({ path: 'file', message: expect.any(String) });
      expect(await rowsNamed(name), what).toEqual([]);
    }

    const name = `accepted ${id()}`;
    const ok = await upload(name, `15914037193\nnot a number\n159${NUL}1403\n`);
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json()).toMatchObject({ status: 'ready', count: 1, uploadReport: { valid: 1, malformed: { count: 2 } } });
    const stored = await ctx.container.db.selectFrom('segments').select('upload_report').where('id', '=', ok.json().id).executeTakeFirstOrThrow();
    expect((stored.upload_report as { malformed: { first: unknown[] } }).malformed.first[1]).toEqual({ line: 3, value: '159\\u00001403' });
    expect(await rowsNamed(name)).toEqual([{ id: ok.json().id, status: 'ready' }]);
  });
});
