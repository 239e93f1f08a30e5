import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertContacts } from '../../src/exclusions/contact-history.repository.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { targetingTable } from '../../src/warehouse/tables.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';

/** mulberry32: the same hand-made warehouse on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const N = 400;
const number = (id: number) => `1380000${String(id).padStart(4, '0')}`;
const isoDate = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

interface Customer {
  id: number;
  age: number;
  status: 'active' | 'suspended' | 'closed';
  vip: number;
}

/**
 * The warehouse and lists, written out as data so the expected funnel can be computed from them
 * in plain JS, step by step, without the code under test.
 */
function makeWorld(now: Date) {
  const random = prng(20261123);
  const pick = (p: number) => random() < p;
  const customers: Customer[] = [];
  for (let id = 1; id <= N; id++) {
    customers.push({
      id,
      age: 18 + Math.floor(random() * 60),
      status: pick(0.85) ? 'active' : pick(0.5) ? 'suspended' : 'closed',
      vip: Math.floor(random() * 6),
    });
  }
  const lists: Record<string, number[]> = { blacklist: [], complaint: [], opt_out: [], dnd: [], greylist: [], greylistExpired: [] };
  for (const c of customers) {
    // Independent draws, so many customers sit on two or more lists.
    if (pick(0.08)) lists.blacklist!.push(c.id);
    if (pick(0.08)) lists.complaint!.push(c.id);
    if (pick(0.06)) lists.opt_out!.push(c.id);
    if (pick(0.06)) lists.dnd!.push(c.id);
    if (pick(0.1)) (pick(0.5) ? lists.greylist! : lists.greylistExpired!).push(c.id);
  }
  const contacts: Array<{ customerId: number; campaignId: string; category: string | null; sentAt: Date }> = [];
  for (const c of customers) {
    if (pick(0.1)) contacts.push({ customerId: c.id, campaignId: 'camp-recent', category: 'other', sentAt: new Date(now.getTime() - 3 * DAY) });
    if (pick(0.1)) contacts.push({ customerId: c.id, campaignId: 'camp-5g-old', category: '5g_upgrade', sentAt: new Date(now.getTime() - 20 * DAY) });
    if (pick(0.1)) contacts.push({ customerId: c.id, campaignId: 'camp-other-old', category: 'other', sentAt: new Date(now.getTime() - 20 * DAY) });
    if (pick(0.1)) contacts.push({ customerId: c.id, campaignId: 'camp-ancient', category: '5g_upgrade', sentAt: new Date(now.getTime() - 60 * DAY) });
  }
  const subscriptions: Array<{ customerId: number; product: string; end: string | null }> = [];
  for (const c of customers) {
    if (pick(0.08)) subscriptions.push({ customerId: c.id, product: 'P5G', end: null });
    if (pick(0.05)) subscriptions.push({ customerId: c.id, product: 'P5G', end: isoDate(new Date(now.getTime() - 10 * DAY)) });
    if (pick(0.05)) subscriptions.push({ customerId: c.id, product: 'P5G', end: isoDate(new Date(now.getTime() + 10 * DAY)) });
    if (pick(0.1)) subscriptions.push({ customerId: c.id, product: 'PVIDEO', end: null });
  }
  return { customers, lists, contacts, subscriptions };
}

type World = ReturnType<typeof makeWorld>;
type Rule = (c: Customer) => boolean;

/** The default policy of DESIGN.md, written out by hand over the world's rows. */
function defaultPolicyRules(world: World, now: Date, opts: { productId?: string; category?: string }): Array<{ name: string; rule: Rule }> {
  const on = (ids: number[]) => new Set(ids);
  const contactedWithin = (days: number, category?: string) =>
    new Set(
      world.contacts
        .filter((x) => x.sentAt.getTime() >= now.getTime() - days * DAY && (category === undefined || x.category === category))
        .map((x) => x.customerId),
    );
  const today = isoDate(now);
  const holders = new Set(
    world.subscriptions.filter((s) => s.product === opts.productId && (s.end === null || s.end >= today)).map((s) => s.customerId),
  );
  const sets = {
    blacklist: on(world.lists.blacklist!),
    complaint: on(world.lists.complaint!),
    opt_out: on(world.lists.opt_out!),
    dnd: on(world.lists.dnd!),
    greylist: on(world.lists.greylist!),
    recent7: contactedWithin(7),
    recent30: opts.category === undefined ? new Set<number>() : contactedWithin(30, opts.category),
  };
  return [
    { name: 'list:blacklist', rule: (c) => sets.blacklist.has(c.id) },
    { name: 'list:complaint', rule: (c) => sets.complaint.has(c.id) },
    { name: 'list:opt_out', rule: (c) => sets.opt_out.has(c.id) },
    { name: 'list:dnd', rule: (c) => sets.dnd.has(c.id) },
    { name: 'list:greylist', rule: (c) => sets.greylist.has(c.id) },
    { name: 'recentContact:7d', rule: (c) => sets.recent7.has(c.id) },
    { name: 'recentContact:30d:sameCategory', rule: (c) => sets.recent30.has(c.id) },
    { name: 'hasProduct', rule: (c) => holders.has(c.id) },
    { name: 'status≠active', rule: (c) => c.status !== 'active' },
  ];
}

/** First matching step per member (0 = kept), then the funnel as DESIGN.md shapes it. */
function expectedFunnel(members: Customer[], rules: Array<{ name: string; rule: Rule }>) {
  const firstStep = new Map<number, number>();
  for (const c of members) {
    const i = rules.findIndex((r) => r.rule(c));
    firstStep.set(c.id, i + 1);
  }
  let remaining = members.length;
  const funnel: Array<{ step: string; removed?: number; remaining: number }> = [{ step: 'segment', remaining }];
  rules.forEach((r, i) => {
    const removed = [...firstStep.values()].filter((s) => s === i + 1).length;
    remaining -= removed;
    funnel.push({ step: r.name, removed, remaining });
  });
  return { funnel, firstStep, kept: remaining };
}

describe('targeting: exclusion funnel, control group and explain', () => {
  let ctx: TestContext;
  let databaseUrl: string;
  let world: World;
  let segmentId: string;
  let members: Customer[];
  const now = new Date();
  const operator = { name: 'targeting-test', role: 'operator' as const };

  const writeCsv = (name: string, lines: string[]) => writeFileSync(path.join(ctx.dir, name), lines.join('\n'));
  const importCsv = (dataset: string) =>
    ctx.container.imports.importFile({ dataset, path: `${dataset}.csv`, format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
  const preview = (body: Record<string, unknown>, role: 'operator' | 'analyst' = 'operator') =>
    ctx.app.inject({ method: 'POST', url: '/v1/targeting/preview', headers: ctx.auth(role), payload: body });
  const runRows = (id: string) =>
    ctx.container.warehouse.query<{ customer_id: number; removed_by_step: number; is_control: boolean }>(
      `SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(id)} ORDER BY customer_id`,
    );
  const explain = async (id: string, msisdn: string, role: 'operator' | 'admin' = 'admin') =>
    (await ctx.app.inject({ url: `/v1/targeting/${id}/explain?msisdn=${msisdn}`, headers: ctx.auth(role) })).json();

  beforeAll(async () => {
    // Lists and contact history are read whole by the mirror: a database of this file's own.
    databaseUrl = ownDatabaseUrl();
    ctx = await createTestContext({ DATABASE_URL: databaseUrl });
    world = makeWorld(now);
    writeCsv('customers.csv', [
      'customer_id,msisdn,name,gender,age,city,county,grid_id,brand,plan_id,arpu,mou,data_mb,tenure_months,status,is_5g_device,vip_level,join_date',
      ...world.customers.map((c) => `${c.id},${number(c.id)},客户${c.id},F,${c.age},广州,天河区,G1,gotone,P1,50.00,100,1000,12,${c.status},true,${c.vip},2020-01-01`),
    ]);
    await importCsv('customers');
    writeCsv('subscriptions.csv', [
      'customer_id,product_id,start_date,end_date',
      ...world.subscriptions.map((s) => `${s.customerId},${s.product},2020-01-01,${s.end ?? ''}`),
    ]);
    await importCsv('subscriptions');
    const { lists } = ctx.container;
    for (const name of ['blacklist', 'complaint', 'opt_out', 'dnd'] as const) {
      await lists.addEntries(name, world.lists[name]!.map(number), { source: 'api', reason: `${name} reason` }, operator);
    }
    await lists.addEntries('greylist', [...world.lists.greylist!, ...world.lists.greylistExpired!].map(number), { source: 'api', reason: 'cooling off' }, operator);
    // Expired entries: as if added long ago; the funnel must not count them.
    await ctx.container.db
      .updateTable('list_entries')
      .set({ expires_at: new Date(now.getTime() - DAY) })
      .where('list_name', '=', 'greylist')
      .where('msisdn', 'in', world.lists.greylistExpired!.map(number))
      .execute();
    await insertContacts(ctx.container.db, world.contacts);
    const segment = await ctx.container.segments.create({ name: 'adults 30+', condition: { field: 'age', op: 'gte', value: 30 } }, operator);
    segmentId = segment.id;
    members = world.customers.filter((c) => c.age >= 30);
  });
  afterAll(async () => {
    await ctx?.close();
    if (databaseUrl) await dropOwnDatabase(databaseUrl);
  });

  it('counts the default policy step by step, each customer at the first step that removes them', async () => {
    const res = await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 10, seed: 'fixed' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const expected = expectedFunnel(members, defaultPolicyRules(world, now, { productId: 'P5G', category: '5g_upgrade' }));
    expect(body.funnel.map((f: { step: string; removed?: number; remaining: number }) => ({ step: f.step, ...(f.removed === undefined ? {} : { removed: f.removed }), remaining: f.remaining }))).toEqual(expected.funnel);
    const control = Math.round((expected.kept * 10) / 100);
    expect(body).toMatchObject({ control, target: expected.kept - control, policy: { name: 'default', version: 1 }, seed: 'fixed' });

    // The persisted per-customer answer agrees with the hand computation, customer by customer.
    const rows = await runRows(body.id);
    expect(rows.map((r) => [r.customer_id, r.removed_by_step])).toEqual(members.map((c) => [c.id, expected.firstStep.get(c.id)]));
    expect(rows.filter((r) => r.is_control).every((r) => r.removed_by_step === 0)).toBe(true);

    // Order dependence is real in this data: some customers are on several lists.
    const onBlacklistAndComplaint = members.filter((c) => world.lists.blacklist!.includes(c.id) && world.lists.complaint!.includes(c.id));
    expect(onBlacklistAndComplaint.length).toBeGreaterThan(0);
    for (const c of onBlacklistAndComplaint) expect(expected.firstStep.get(c.id)).toBe(1);

    const stored = (await ctx.app.inject({ url: `/v1/targeting/${body.id}`, headers: ctx.auth('analyst') })).json();
    expect(stored).toMatchObject({ id: body.id, segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 10, funnel: body.funnel });
  });

  it('skips hasProduct without a product and same-category contact without a category, saying so', async () => {
    const body = (await preview({ segmentId, controlGroupPercent: 0 })).json();
    const expected = expectedFunnel(members, defaultPolicyRules(world, now, {}));
    expect(body.funnel.map((f: { remaining: number }) => f.remaining)).toEqual(expected.funnel.map((f) => f.remaining));
    const hasProduct = body.funnel.find((f: { step: string }) => f.step === 'hasProduct');
    expect(hasProduct).toMatchObject({ removed: 0, skipped: true });
    expect(body.funnel.find((f: { step: string }) => f.step === 'recentContact:30d:sameCategory')).toMatchObject({ removed: 0, skipped: true });
    expect(body).toMatchObject({ control: 0, target: expected.kept });
  });

  it('does not count expired greylist entries', async () => {
    const body = (await preview({ segmentId, controlGroupPercent: 0 })).json();
    const greylist = body.funnel.find((f: { step: string }) => f.step === 'list:greylist');
    const earlier = new Set([...world.lists.blacklist!, ...world.lists.complaint!, ...world.lists.opt_out!, ...world.lists.dnd!]);
    const unexpired = members.filter((c) => world.lists.greylist!.includes(c.id) && !earlier.has(c.id)).length;
    const expiredOnly = members.filter((c) => world.lists.greylistExpired!.includes(c.id) && !earlier.has(c.id)).length;
    expect(expiredOnly).toBeGreaterThan(0);
    expect(greylist.removed).toBe(unexpired);
  });

  it('draws exactly round(kept × percent / 100) controls, the same ones for the same seed', async () => {
    const a = (await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 7.5, seed: 'seed-a' })).json();
    const b = (await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 7.5, seed: 'seed-a' })).json();
    const c = (await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 7.5, seed: 'seed-c' })).json();
    const kept = a.control + a.target;
    expect(a.control).toBe(Math.round((kept * 7.5) / 100));
    const controls = async (id: string) => (await runRows(id)).filter((r) => r.is_control).map((r) => r.customer_id);
    expect(await controls(a.id)).toEqual(await controls(b.id));
    expect(await controls(a.id)).not.toEqual(await controls(c.id));
    expect((await controls(c.id)).length).toBe(a.control);
  });

  it('explains target, control, each kind of removal, and numbers outside the segment', async () => {
    const run = (await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 20, seed: 'explain' })).json();
    const rows = await runRows(run.id);
    const target = rows.find((r) => r.removed_by_step === 0 && !r.is_control)!;
    const control = rows.find((r) => r.is_control)!;
    expect(await explain(run.id, number(target.customer_id))).toMatchObject({ outcome: 'target', customerId: target.customer_id, step: null });
    expect(await explain(run.id, number(control.customer_id))).toMatchObject({ outcome: 'control', customerId: control.customer_id });

    const onTwoLists = rows.find((r) => world.lists.blacklist!.includes(r.customer_id) && world.lists.complaint!.includes(r.customer_id))!;
    const listed = await explain(run.id, number(onTwoLists.customer_id));
    expect(listed).toMatchObject({
      outcome: 'excluded',
      step: { index: 1, name: 'list:blacklist', type: 'list' },
      evidence: { kind: 'list', list: 'blacklist', reason: 'blacklist reason', addedBy: 'targeting-test', removedAt: null },
    });
    expect(listed.explanation).toContain('blacklist');

    const contacted = rows.find((r) => r.removed_by_step === 6)!;
    expect(await explain(run.id, number(contacted.customer_id))).toMatchObject({
      outcome: 'excluded',
      step: { index: 6, type: 'recentContact' },
      evidence: { kind: 'contact', campaignId: 'camp-recent', days: 7, sentAt: new Date(now.getTime() - 3 * DAY).toISOString() },
    });
    const sameCategory = rows.find((r) => r.removed_by_step === 7)!;
    expect(await explain(run.id, number(sameCategory.customer_id))).toMatchObject({
      step: { index: 7 },
      evidence: { kind: 'contact', campaignId: 'camp-5g-old', category: '5g_upgrade' },
    });
    const holder = rows.find((r) => r.removed_by_step === 8)!;
    expect(await explain(run.id, number(holder.customer_id))).toMatchObject({ step: { index: 8, type: 'hasProduct' }, evidence: { kind: 'subscription', productId: 'P5G' } });
    const inactive = rows.find((r) => r.removed_by_step === 9)!;
    expect(await explain(run.id, number(inactive.customer_id))).toMatchObject({ step: { index: 9, name: 'status≠active' }, evidence: { kind: 'condition' } });

    const outsider = world.customers.find((c) => c.age < 30)!;
    expect(await explain(run.id, number(outsider.id))).toMatchObject({ outcome: 'not_in_segment', customerId: outsider.id });
    expect(await explain(run.id, '13999999999')).toMatchObject({ outcome: 'not_a_customer', customerId: null });

    const masked = await explain(run.id, number(target.customer_id), 'operator');
    expect(masked.msisdn).toBe(`138****${number(target.customer_id).slice(-4)}`);
    const bad = await ctx.app.inject({ url: `/v1/targeting/${run.id}/explain?msisdn=12`, headers: ctx.auth('operator') });
    expect(bad.statusCode).toBe(400);
    // Operator-only, as the README says: analysts may not ask why a number is (not) targeted.
    const analyst = await ctx.app.inject({ url: `/v1/targeting/${run.id}/explain?msisdn=${number(target.customer_id)}`, headers: ctx.auth('analyst') });
    expect(analyst.statusCode).toBe(403);
  });

  it('runs a custom policy with upload and condition steps, in its own order', async () => {
    const custom = `t_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    await ctx.app.inject({ method: 'POST', url: '/v1/lists', headers: ctx.auth('operator'), payload: { name: custom, label: 'uploaded' } });
    const uploaded = members.filter((c) => c.id % 3 === 0).map((c) => c.id);
    await ctx.container.lists.addEntries(custom, uploaded.map(number), { source: 'upload' }, operator);
    const policy = `p-${randomUUID().slice(0, 8)}`;
    const put = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/exclusion-policies/${policy}`,
      headers: ctx.auth('operator'),
      payload: {
        steps: [
          { type: 'condition', condition: { field: 'vip_level', op: 'gte', value: 4 }, label: 'vip 4+' },
          { type: 'upload', listId: custom },
          { type: 'list', list: 'blacklist' },
        ],
      },
    });
    expect(put.statusCode).toBe(201);
    const body = (await preview({ segmentId, policy, controlGroupPercent: 0 })).json();
    const up = new Set(uploaded);
    const black = new Set(world.lists.blacklist!);
    const expected = expectedFunnel(members, [
      { name: 'vip 4+', rule: (c) => c.vip >= 4 },
      { name: `upload:${custom}`, rule: (c) => up.has(c.id) },
      { name: 'list:blacklist', rule: (c) => black.has(c.id) },
    ]);
    expect(body.funnel.map((f: { step: string; removed?: number; remaining: number }) => ({ step: f.step, ...(f.removed === undefined ? {} : { removed: f.removed }), remaining: f.remaining }))).toEqual(expected.funnel);
  });

  it('leaves out members who are no longer customers after a customers re-import', async () => {
    const gone = new Set(members.slice(0, 5).map((c) => c.id));
    writeCsv('customers.csv', [
      'customer_id,msisdn,name,gender,age,city,county,grid_id,brand,plan_id,arpu,mou,data_mb,tenure_months,status,is_5g_device,vip_level,join_date',
      ...world.customers
        .filter((c) => !gone.has(c.id))
        .map((c) => `${c.id},${number(c.id)},客户${c.id},F,${c.age},广州,天河区,G1,gotone,P1,50.00,100,1000,12,${c.status},true,${c.vip},2020-01-01`),
    ]);
    await importCsv('customers');
    const body = (await preview({ segmentId, productId: 'P5G', category: '5g_upgrade', controlGroupPercent: 0 })).json();
    const still = members.filter((c) => !gone.has(c.id));
    const expected = expectedFunnel(still, defaultPolicyRules(world, now, { productId: 'P5G', category: '5g_upgrade' }));
    expect(body.funnel.map((f: { remaining: number }) => f.remaining)).toEqual(expected.funnel.map((f) => f.remaining));
    expect((await runRows(body.id)).some((r) => gone.has(r.customer_id))).toBe(false);
  });

  it('refuses unknown segments and policies, and analysts', async () => {
    expect((await preview({ segmentId: randomUUID() })).statusCode).toBe(404);
    expect((await preview({ segmentId, policy: 'no-such-policy' })).statusCode).toBe(404);
    expect((await preview({ segmentId }, 'analyst')).statusCode).toBe(403);
    writeCsv('products.csv', ['product_id,name,category,monthly_fee', 'P5G,5G升级包,5g,30.00', 'PVIDEO,视频包,video,15.00']);
    await importCsv('products');
    const unknownProduct = await preview({ segmentId, productId: 'NOPE' });
    expect(unknownProduct.statusCode).toBe(400);
    expect(unknownProduct.json().errors[0].path).toBe('productId');
    const pct = await preview({ segmentId, controlGroupPercent: 60 });
    expect(pct.statusCode).toBe(400);
    expect(pct.json().errors[0].path).toBe('controlGroupPercent');
    expect((await ctx.app.inject({ url: `/v1/targeting/${randomUUID()}`, headers: ctx.auth('analyst') })).statusCode).toBe(404);
  });
});
