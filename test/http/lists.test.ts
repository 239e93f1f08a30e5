import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { multipartBody } from '../helpers/multipart.js';

/** Numbers unlikely to collide with other test files sharing the Postgres database. */
function numbers(n: number): string[] {
  const prefix = `19${randomInt(0, 10)}${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  const start = randomInt(0, 5000);
  return Array.from({ length: n }, (_, i) => `${prefix}${String(start + i).padStart(4, '0')}`);
}

const masked = (msisdn: string) => `${msisdn.slice(0, 3)}****${msisdn.slice(-4)}`;

describe('special lists over HTTP', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  async function createList(defaultExpiryDays?: number): Promise<string> {
    const name = `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/v1/lists',
      headers: ctx.auth('operator'),
      payload: { name, label: '测试名单', ...(defaultExpiryDays ? { defaultExpiryDays } : {}) },
    });
    expect(res.statusCode).toBe(201);
    return name;
  }

  async function liveEntries(list: string): Promise<Array<{ msisdn: string; reason: string | null; expiresAt: string | null }>> {
    const res = await ctx.app.inject({ url: `/v1/lists/${list}/entries?limit=1000`, headers: ctx.auth('admin') });
    expect(res.statusCode).toBe(200);
    return res.json().entries;
  }

  it('lists the seven system lists out of the box, with labels and counts', async () => {
    const res = await ctx.app.inject({ url: '/v1/lists', headers: ctx.auth('analyst') });
    expect(res.statusCode).toBe(200);
    const lists = res.json().lists as Array<{ name: string; kind: string; label: string; entries: number; defaultExpiryDays: number | null }>;
    const system = lists.filter((l) => l.kind === 'system').map((l) => l.name);
    expect(system.sort()).toEqual(['blacklist', 'complaint', 'dnd', 'greylist', 'important', 'opt_out', 'vip']);
    expect(lists.slice(0, 7).map((l) => l.kind)).toEqual(Array(7).fill('system'));
    expect(lists.find((l) => l.name === 'blacklist')?.label).toBe('黑名单');
    expect(lists.find((l) => l.name === 'greylist')?.defaultExpiryDays).toBe(30);
  });

  it('creates custom lists for operators only, once per name', async () => {
    const name = await createList();
    const again = await ctx.app.inject({ method: 'POST', url: '/v1/lists', headers: ctx.auth('operator'), payload: { name, label: 'x' } });
    expect(again.statusCode).toBe(409);
    const analyst = await ctx.app.inject({ method: 'POST', url: '/v1/lists', headers: ctx.auth('analyst'), payload: { name: `${name}_2`, label: 'x' } });
    expect(analyst.statusCode).toBe(403);
    const bad = await ctx.app.inject({ method: 'POST', url: '/v1/lists', headers: ctx.auth('operator'), payload: { name: 'Bad Name', label: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe('name');
    const listed = (await ctx.app.inject({ url: '/v1/lists', headers: ctx.auth('analyst') })).json().lists;
    expect(listed.find((l: { name: string }) => l.name === name)).toMatchObject({ kind: 'custom', entries: 0, createdBy: expect.stringMatching(/^test-operator/) });
  });

  it('adds in bulk idempotently: re-adding refreshes reason and expiry, and revives removed numbers', async () => {
    const list = await createList();
    const [a, b, c] = numbers(3) as [string, string, string];
    const first = await ctx.app.inject({
      method: 'POST',
      url: `/v1/lists/${list}/entries`,
      headers: ctx.auth('operator'),
      payload: { msisdns: [a, b, a, `+86${c}`], reason: 'complained twice' },
    });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ list, numbers: 3, added: 3, updated: 0, revived: 0, expiresAt: null });

    const removed = await ctx.app.inject({ method: 'DELETE', url: `/v1/lists/${list}/entries/${b}`, headers: ctx.auth('operator') });
    expect(removed.statusCode).toBe(200);
    expect(removed.json().removed).toMatchObject({ msisdn: masked(b), reason: 'complained twice' });

    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const second = await ctx.app.inject({
      method: 'POST',
      url: `/v1/lists/${list}/entries`,
      headers: ctx.auth('operator'),
      payload: { msisdns: [a, b], reason: 'again', expiresAt },
    });
    expect(second.json()).toMatchObject({ numbers: 2, added: 0, updated: 1, revived: 1 });

    const entries = await liveEntries(list);
    expect(entries.map((e) => e.msisdn).sort()).toEqual([a, b, c].sort());
    const byNumber = new Map(entries.map((e) => [e.msisdn, e]));
    expect(byNumber.get(a)).toMatchObject({ reason: 'again', expiresAt });
    expect(byNumber.get(b)).toMatchObject({ reason: 'again', expiresAt });
    expect(byNumber.get(c)).toMatchObject({ reason: 'complained twice', expiresAt: null });
  });

  it('rejects a request with a malformed number, naming its index, and writes nothing', async () => {
    const list = await createList();
    const [good] = numbers(1) as [string];
    const res = await ctx.app.inject({
      method: 'POST',
      url: `/v1/lists/${list}/entries`,
      headers: ctx.auth('operator'),
      payload: { msisdns: [good, '12345', good, '1381234abcd'] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { path: string }) => e.path)).toEqual(['msisdns[1]', 'msisdns[3]']);
    expect(await liveEntries(list)).toEqual([]);
    const audit = await ctx.container.db.selectFrom('audit_log').select('id').where('target_id', '=', list).where('action', '=', 'list.entries.add').execute();
    expect(audit).toEqual([]);
  });

  it('answers 404 for an unknown list and 400 for an expiry in the past', async () => {
    const unknown = await ctx.app.inject({ method: 'POST', url: '/v1/lists/no_such_list/entries', headers: ctx.auth('operator'), payload: { msisdns: numbers(1) } });
    expect(unknown.statusCode).toBe(404);
    const read = await ctx.app.inject({ url: '/v1/lists/no_such_list/entries', headers: ctx.auth('analyst') });
    expect(read.statusCode).toBe(404);
    const list = await createList();
    const past = await ctx.app.inject({
      method: 'POST',
      url: `/v1/lists/${list}/entries`,
      headers: ctx.auth('operator'),
      payload: { msisdns: numbers(1), expiresAt: new Date(Date.now() - 60_000).toISOString() },
    });
    expect(past.statusCode).toBe(400);
    expect(past.json().errors).toEqual([{ path: 'expiresAt', message: 'is not in the future' }]);
    expect(await liveEntries(list)).toEqual([]);
  });

  it('applies the list default expiry when none is given', async () => {
    const list = await createList(30);
    const before = Date.now();
    await ctx.app.inject({ method: 'POST', url: `/v1/lists/${list}/entries`, headers: ctx.auth('operator'), payload: { msisdns: numbers(1) } });
    const [entry] = await liveEntries(list);
    const expires = new Date(entry!.expiresAt!).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000 + 1000);
  });

  it('masks numbers for everyone but admins, finds one number, and pages with an opaque cursor', async () => {
    const list = await createList();
    const all = numbers(5);
    await ctx.app.inject({ method: 'POST', url: `/v1/lists/${list}/entries`, headers: ctx.auth('operator'), payload: { msisdns: all } });
    const analyst = await ctx.app.inject({ url: `/v1/lists/${list}/entries?limit=2`, headers: ctx.auth('analyst') });
    const page1 = analyst.json();
    expect(page1.entries).toHaveLength(2);
    for (const e of page1.entries) expect(e.msisdn).toMatch(/^\d{3}\*{4}\d{4}$/);
    expect(Buffer.from(page1.nextCursor, 'base64url').toString()).not.toMatch(/\d{11}/);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await ctx.app.inject({
        url: `/v1/lists/${list}/entries?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        headers: ctx.auth('admin'),
      });
      const body: { entries: Array<{ msisdn: string }>; nextCursor: string | null } = res.json();
      seen.push(...body.entries.map((e: { msisdn: string }) => e.msisdn));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([...all].sort());
    const one = await ctx.app.inject({ url: `/v1/lists/${list}/entries?msisdn=${all[3]}`, headers: ctx.auth('analyst') });
    expect(one.json().entries.map((e: { msisdn: string }) => e.msisdn)).toEqual([masked(all[3]!)]);
  });

  it('audits removals with the entry before and after, and who removed it', async () => {
    const [n] = numbers(1) as [string];
    await ctx.app.inject({ method: 'POST', url: '/v1/lists/blacklist/entries', headers: ctx.auth('operator'), payload: { msisdns: [n], reason: 'fraud' } });
    const res = await ctx.app.inject({ method: 'DELETE', url: `/v1/lists/blacklist/entries/${n}`, headers: ctx.auth('admin') });
    expect(res.statusCode).toBe(200);
    expect(res.json().removed.msisdn).toBe(n);
    const again = await ctx.app.inject({ method: 'DELETE', url: `/v1/lists/blacklist/entries/${n}`, headers: ctx.auth('operator') });
    expect(again.statusCode).toBe(404);
    const rows = await ctx.container.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target_type', '=', 'list_entry')
      .where('target_id', '=', `blacklist/${n}`)
      .execute();
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.action).toBe('list.entry.remove');
    expect(row.actor).toMatch(/^test-admin/);
    expect(row.before).toMatchObject({ list: 'blacklist', msisdn: n, reason: 'fraud', deletedAt: null });
    expect(row.after).toMatchObject({ deletedBy: row.actor, deletedAt: expect.any(String) });
    const added = await ctx.container.db
      .selectFrom('audit_log')
      .selectAll()
      .where('target_id', '=', 'blacklist')
      .where('action', '=', 'list.entries.add')
      .where('actor', 'like', 'test-operator%')
      .execute();
    expect(added.some((a) => (a.details as { msisdns: string[] }).msisdns.includes(n))).toBe(true);
  });

  it('uploads a file with the segment-upload report, and rejects the whole file on a malformed line', async () => {
    const list = await createList();
    const [a, b, c] = numbers(3) as [string, string, string];
    const good = multipartBody({ reason: 'from file' }, { filename: 'numbers.txt', content: `${a}\n${b}\n\n${a}\r\n+86 ${c}\n` });
    const res = await ctx.app.inject({ method: 'POST', url: `/v1/lists/${list}/upload`, headers: { ...ctx.auth('operator'), ...good.headers }, payload: good.payload });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      list,
      numbers: 3,
      added: 3,
      file: { linesRead: 5, blankLines: 1, duplicates: 1, malformed: { count: 0 }, valid: 3 },
    });
    expect((await liveEntries(list)).map((e) => e.reason)).toEqual(['from file', 'from file', 'from file']);

    const other = await createList();
    const [d] = numbers(1) as [string];
    const bad = multipartBody({}, { filename: 'bad.txt', content: `${d}\nnot-a-number\n${d.slice(0, 7)}\n` });
    const rejected = await ctx.app.inject({ method: 'POST', url: `/v1/lists/${other}/upload`, headers: { ...ctx.auth('operator'), ...bad.headers }, payload: bad.payload });
    expect(rejected.statusCode).toBe(400);
    expect(rejected.json().code).toBe('BAD_FILE');
    expect(rejected.json().errors.map((e: { path: string }) => e.path)).toEqual(['line 2', 'line 3']);
    expect(rejected.json().file).toMatchObject({ linesRead: 3, malformed: { count: 2 } });
    expect(await liveEntries(other)).toEqual([]);
  });
});
