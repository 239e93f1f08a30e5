import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';
import { multipartBody } from '../helpers/multipart.js';
import { reportCommand } from '../../src/reports/report.cli.js';

/**
 * A hand-worked campaign: launched for later (so no worker touches it), its ledger rows given
 * outcomes directly in Postgres, known orders and replies; every figure of the reports is
 * recomputed here in plain JS from what the test wrote, never taken from the code under test.
 */

interface Recipient {
  seq: number;
  customerId: number;
  msisdn: string;
  isControl: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const COST = 0.05;

let ctx: SendingContext;
let campaignId: string;
let sendAt: Date;
let targets: Recipient[];
let controls: Recipient[];
const cityOf = new Map<number, string | null>();
const gridOf = new Map<number, string | null>();

/** What the test decided for each target recipient. */
interface Outcome {
  status: 'delivered' | 'failed' | 'suppressed' | 'expired';
  errorCode?: string;
  submittedAt?: Date;
  parts?: number;
}
const outcomes = new Map<number, Outcome>();
/** Orders that must count: customer → [revenue…]. */
const attributed = new Map<number, number[]>();

async function api(method: 'GET' | 'POST', url: string, role: 'analyst' | 'operator' | 'admin', payload?: unknown) {
  return ctx.app.inject({ method, url, headers: ctx.auth(role), ...(payload === undefined ? {} : { payload: payload as object }) });
}

function order(id: string, who: { customerId?: number; msisdn?: string }, productId: string, at: Date, revenue?: number) {
  return { orderId: id, ...who, productId, orderedAt: at.toISOString(), ...(revenue === undefined ? {} : { revenue }) };
}

beforeAll(async () => {
  ctx = await createSendingContext({ MESSAGE_COST: String(COST), ATTRIBUTION_DAYS: '30' });
  campaignId = await ctx.campaign({ productId: 'P5G', controlGroupPercent: 20 });
  const at = new Date(Date.now() + 2 * DAY);
  await ctx.launch(campaignId, at.toISOString());
  const row = await ctx.container.db.selectFrom('campaigns').select(['send_at', 'launched_at']).where('id', '=', campaignId).executeTakeFirstOrThrow();
  sendAt = row.send_at ?? row.launched_at!;

  const ledger = await ctx.container.db
    .selectFrom('message_ledger')
    .select(['seq', 'customer_id', 'msisdn', 'is_control'])
    .where('campaign_id', '=', campaignId)
    .orderBy('seq')
    .execute();
  const all = ledger.map((r) => ({ seq: r.seq, customerId: Number(r.customer_id), msisdn: r.msisdn, isControl: r.is_control }));
  targets = all.filter((r) => !r.isControl);
  controls = all.filter((r) => r.isControl);
  const geo = await ctx.container.warehouse.query<{ customer_id: number; city: string | null; grid_id: string | null }>(
    'SELECT customer_id, city, grid_id FROM customers',
  );
  for (const g of geo) {
    cityOf.set(g.customer_id, g.city);
    gridOf.set(g.customer_id, g.grid_id);
  }

  // Outcomes: a pattern over the target rows, so every status and two error codes occur.
  targets.forEach((t, i) => {
    const submittedAt = new Date(sendAt.getTime() + (i % 10) * HOUR);
    if (i % 10 < 6) outcomes.set(t.seq, { status: 'delivered', submittedAt, parts: i % 3 === 0 ? 2 : 1 });
    else if (i % 10 === 6) outcomes.set(t.seq, { status: 'failed', errorCode: 'UNDELIV:045', submittedAt, parts: 1 });
    else if (i % 10 === 7) outcomes.set(t.seq, { status: 'failed', errorCode: 'SUBMIT:0x0000000B' });
    else if (i % 10 === 8) outcomes.set(t.seq, { status: 'suppressed' });
    else if (i % 20 === 9) outcomes.set(t.seq, { status: 'expired', submittedAt, parts: 1 });
    // The rest (i % 20 === 19) stays queued: pending.
  });
  await applyOutcomes([...outcomes.entries()]);
});

afterAll(async () => {
  await ctx?.close();
});

async function applyOutcomes(entries: Array<[number, Outcome]>): Promise<void> {
  for (const [seq, o] of entries) {
    await sql`UPDATE message_ledger SET status = ${o.status}, error_code = ${o.errorCode ?? null}, parts = ${o.parts ?? null},
      submitted_at = ${o.submittedAt?.toISOString() ?? null}::timestamptz, final_at = ${new Date().toISOString()}::timestamptz
      WHERE campaign_id = ${campaignId} AND seq = ${seq}`.execute(ctx.container.db);
  }
}

describe('conversions', () => {
  it('records orders idempotently and attributes only the campaign product inside the window', async () => {
    const sent = targets.filter((t) => outcomes.get(t.seq)?.submittedAt);
    const orders = [];
    // Every fourth sent target buys the product a day after its own send; some twice.
    sent.forEach((t, i) => {
      if (i % 4 !== 0) return;
      const at = new Date(outcomes.get(t.seq)!.submittedAt!.getTime() + DAY);
      orders.push(order(`T-${t.seq}`, { customerId: t.customerId }, 'P5G', at, 30));
      attributed.set(t.customerId, [30]);
      if (i % 8 === 0) {
        orders.push(order(`T2-${t.seq}`, { customerId: t.customerId }, 'P5G', new Date(at.getTime() + DAY), 20.5));
        attributed.get(t.customerId)!.push(20.5);
      }
    });
    const [b, c, d, e] = [sent[1]!, sent[2]!, sent[3]!, sent[5]!];
    const sub = (t: Recipient) => outcomes.get(t.seq)!.submittedAt!.getTime();
    orders.push(order('OUT-late', { customerId: b.customerId }, 'P5G', new Date(sub(b) + 31 * DAY), 99)); // after the window
    orders.push(order('OUT-product', { customerId: c.customerId }, 'PX', new Date(sub(c) + DAY), 99)); // another product
    orders.push(order('OUT-early', { customerId: d.customerId }, 'P5G', new Date(sub(d) - HOUR), 99)); // before its send
    // Named by number only: resolved through customers.
    orders.push(order('BY-NUMBER', { msisdn: e.msisdn }, 'P5G', new Date(sub(e) + 2 * DAY), 12));
    attributed.set(e.customerId, [12]);
    // A never-sent target (suppressed) cannot convert; its order is ignored.
    const suppressed = targets.find((t) => outcomes.get(t.seq)?.status === 'suppressed')!;
    orders.push(order('OUT-unsent', { customerId: suppressed.customerId }, 'P5G', new Date(sendAt.getTime() + DAY), 99));
    // Control: every 10th buys within the window after the send time; one before it (ignored).
    controls.forEach((k, i) => {
      if (i % 10 !== 0) return;
      orders.push(order(`C-${k.seq}`, { customerId: k.customerId }, 'P5G', new Date(sendAt.getTime() + 5 * DAY), 30));
      attributed.set(k.customerId, [30]);
    });
    orders.push(order('OUT-control-early', { customerId: controls[1]!.customerId }, 'P5G', new Date(sendAt.getTime() - DAY), 99));

    const first = await api('POST', '/v1/feedback/conversions', 'operator', orders);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ received: orders.length, inserted: orders.length, duplicates: 0 });

    // The same orders again (and one repeated within the batch): all duplicates, nothing doubles.
    const again = await api('POST', '/v1/feedback/conversions', 'operator', [orders[0], orders[0]]);
    expect(again.json()).toMatchObject({ received: 2, inserted: 0, duplicates: 2, duplicateOrderIds: [orders[0]!.orderId, orders[0]!.orderId] });
  });

  it('refuses bad orders with their JSON path and stores none of the batch', async () => {
    const before = await countConversions();
    const bad = await api('POST', '/v1/feedback/conversions', 'operator', [
      order('NEG', { customerId: 1 }, 'P5G', new Date(), -5),
      { orderId: 'BADDATE', customerId: 1, productId: 'P5G', orderedAt: '2026-13-45' },
      { orderId: 'NOBODY', productId: 'P5G', orderedAt: new Date().toISOString() },
    ]);
    expect(bad.statusCode).toBe(400);
    const paths = (bad.json().errors as Array<{ path: string }>).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['[0].revenue', '[1].orderedAt', '[2].msisdn']));
    expect(await countConversions()).toBe(before);
    const analyst = await api('POST', '/v1/feedback/conversions', 'analyst', [order('X', { customerId: 1 }, 'P5G', new Date())]);
    expect(analyst.statusCode).toBe(403);
  });
});

describe('conversions upload', () => {
  async function upload(content: string, role: 'operator' | 'analyst' = 'operator') {
    const { payload, headers } = multipartBody({}, { filename: 'orders.csv', content });
    return ctx.app.inject({ method: 'POST', url: '/v1/feedback/conversions/upload', headers: { ...ctx.auth(role), ...headers }, payload });
  }

  it('stores a clean file atomically and counts a second upload as duplicates', async () => {
    const csv = [
      'order_id,customer_id,msisdn,product_id,ordered_at,revenue',
      'U-1,1,,PX,2026-11-20 10:00:00,12.50',
      'U-2,,15159601432,PX,2026-11-20T10:00:00+08:00,',
      'U-3,2,,PX,2026-11-21,0',
    ].join('\n');
    const first = await upload(csv);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ received: 3, inserted: 3, duplicates: 0, source: 'upload:orders.csv' });
    const stored = await ctx.container.db.selectFrom('conversions').selectAll().where('order_id', 'in', ['U-1', 'U-2', 'U-3']).orderBy('order_id').execute();
    // A local time is read in SEND_TIMEZONE (Asia/Shanghai, UTC+8); a zone as written.
    expect(stored.map((r) => [r.order_id, new Date(r.ordered_at).toISOString(), r.revenue, r.msisdn, r.customer_id])).toEqual([
      ['U-1', '2026-11-20T02:00:00.000Z', 12.5, null, 1],
      ['U-2', '2026-11-20T02:00:00.000Z', null, '15159601432', null],
      ['U-3', '2026-11-20T16:00:00.000Z', 0, null, 2],
    ]);
    const again = await upload(csv);
    expect(again.json()).toMatchObject({ received: 3, inserted: 0, duplicates: 3, duplicateOrderIds: ['U-1', 'U-2', 'U-3'] });
  });

  it('refuses wrong columns, malformed dates and negative revenue naming row and column, and changes nothing', async () => {
    const before = await countConversions();
    const columns = await upload('order_id,customer_id,product,ordered_at\nW-1,1,PX,2026-11-20\n');
    expect(columns.statusCode).toBe(422);
    expect(columns.json().errors).toEqual(
      expect.arrayContaining([
        { path: 'header, column 3', message: expect.stringContaining('unknown column "product"') },
        { path: 'header', message: 'missing column "product_id"' },
      ]),
    );
    const cells = await upload(
      ['order_id,customer_id,product_id,ordered_at,revenue', 'B-1,1,PX,2026-11-20,5', 'B-2,1,PX,2026-13-45 10:00,5', 'B-3,1,PX,2026-11-20,-3', 'B-4,,PX,2026-11-20,1'].join('\n'),
    );
    expect(cells.statusCode).toBe(422);
    expect(cells.json().errors).toEqual([
      { path: 'row 2, column ordered_at', message: expect.stringContaining('is not a date-time') },
      { path: 'row 3, column revenue', message: expect.stringContaining('below the minimum 0') },
      { path: 'row 4, column customer_id', message: 'a value is required' },
    ]);
    expect(await countConversions()).toBe(before);
    expect((await upload('order_id,customer_id,product_id,ordered_at\nA-1,1,PX,2026-11-20\n', 'analyst')).statusCode).toBe(403);
  });
});

async function countConversions(): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM conversions`.execute(ctx.container.db);
  return r.rows[0]!.n;
}

/** The expected figures of a set of recipients, from what the test wrote. */
function expected(recipients: readonly Recipient[], replied: Map<number, 'response' | 'opt_out'>) {
  const t = recipients.filter((r) => !r.isControl);
  const c = recipients.filter((r) => r.isControl);
  const status = (r: Recipient) => outcomes.get(r.seq)?.status ?? 'queued';
  const conv = (rs: Recipient[]) => rs.filter((r) => attributed.has(r.customerId));
  const revenue = (rs: Recipient[]) => Math.round(conv(rs).reduce((s, r) => s + attributed.get(r.customerId)!.reduce((a, b) => a + b, 0), 0) * 100) / 100;
  return {
    target: {
      size: t.length,
      sent: t.filter((r) => outcomes.get(r.seq)?.submittedAt).length,
      delivered: t.filter((r) => status(r) === 'delivered').length,
      failed: t.filter((r) => status(r) === 'failed').length,
      suppressed: t.filter((r) => status(r) === 'suppressed').length,
      expired: t.filter((r) => status(r) === 'expired').length,
      pending: t.filter((r) => status(r) === 'queued').length,
      replies: t.filter((r) => replied.has(r.customerId)).length,
      optOuts: t.filter((r) => replied.get(r.customerId) === 'opt_out').length,
      conversions: conv(t).length,
      orders: conv(t).reduce((s, r) => s + attributed.get(r.customerId)!.length, 0),
      revenue: revenue(t),
    },
    control: { size: c.length, conversions: conv(c).length, revenue: revenue(c) },
  };
}

describe('campaign report', () => {
  const replied = new Map<number, 'response' | 'opt_out'>();

  beforeAll(async () => {
    const sentTargets = targets.filter((t) => outcomes.get(t.seq)?.submittedAt);
    const [a, b] = [sentTargets[0]!, sentTargets[7]!];
    replied.set(a.customerId, 'response');
    replied.set(b.customerId, 'opt_out');
    let mo = 9_000_000;
    for (const [r, kind] of [[a, 'response'], [b, 'opt_out']] as const) {
      mo += 1;
      const moId = mo;
      await sql`INSERT INTO campaign_replies (mo_id, campaign_id, msisdn, customer_id, gateway, text, normalised, kind, received_at)
        VALUES (${moId}, ${campaignId}, ${r.msisdn}, ${r.customerId}, 'simulator', ${kind === 'opt_out' ? 'ＴＤ' : '好的'},
          ${kind === 'opt_out' ? 'TD' : '好的'}, ${kind}, now())`.execute(ctx.container.db);
    }
  });

  it('gives the hand-worked figures, uplift and cost', async () => {
    const res = await api('GET', `/v1/campaigns/${campaignId}/report`, 'analyst');
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    const want = expected([...targets, ...controls], replied);
    expect(report.target).toMatchObject(want.target);
    expect(report.target.failedByError).toEqual({
      'UNDELIV:045': [...outcomes.values()].filter((o) => o.errorCode === 'UNDELIV:045').length,
      'SUBMIT:0x0000000B': [...outcomes.values()].filter((o) => o.errorCode === 'SUBMIT:0x0000000B').length,
    });
    expect(report.control).toMatchObject(want.control);
    expect(report.target.conversionRate).toBeCloseTo(want.target.conversions / want.target.size, 12);
    expect(report.control.conversionRate).toBeCloseTo(want.control.conversions / want.control.size, 12);

    // Uplift recomputed here from the expected counts.
    const [x1, n1, x2, n2] = [want.target.conversions, want.target.size, want.control.conversions, want.control.size];
    const p1 = x1 / n1;
    const p2 = x2 / n2;
    const p = (x1 + x2) / (n1 + n2);
    const z = (p1 - p2) / Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
    const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
    expect(report.uplift.absolute).toBeCloseTo(p1 - p2, 12);
    expect(report.uplift.relative).toBeCloseTo((p1 - p2) / p2, 12);
    expect(report.uplift.z).toBeCloseTo(z, 9);
    expect(report.uplift.ci95[0]).toBeCloseTo(p1 - p2 - 1.959964 * se, 5);
    expect(report.uplift.ci95[1]).toBeCloseTo(p1 - p2 + 1.959964 * se, 5);

    const parts = [...outcomes.values()].reduce((s, o) => s + (o.submittedAt ? (o.parts ?? 0) : 0), 0);
    expect(report.cost.parts).toBe(parts);
    expect(report.cost.total).toBeCloseTo(parts * COST, 9);
    expect(report.cost.perConversion).toBeCloseTo((parts * COST) / x1, 9);
    expect(report.funnel.length).toBeGreaterThan(1);
    expect(report.breakdown).toEqual([]);
  });

  it('breaks down by city, the groups summing to the totals', async () => {
    const res = await api('GET', `/v1/campaigns/${campaignId}/report?by=city`, 'analyst');
    expect(res.statusCode, res.body).toBe(200);
    const report = res.json();
    const all = [...targets, ...controls];
    const cities = [...new Set(all.map((r) => cityOf.get(r.customerId) ?? null))];
    expect(report.breakdown.map((g: { key: string | null }) => g.key).sort()).toEqual([...cities].sort());
    for (const group of report.breakdown) {
      const want = expected(
        all.filter((r) => (cityOf.get(r.customerId) ?? null) === group.key),
        replied,
      );
      expect(group.target).toMatchObject(want.target);
      expect(group.control).toMatchObject(want.control);
    }
    const sum = (f: (g: { target: Record<string, number>; control: Record<string, number> }) => number | undefined) =>
      report.breakdown.reduce((s: number, g: never) => s + (f(g) ?? 0), 0);
    expect(sum((g) => g.target.size)).toBe(report.target.size);
    expect(sum((g) => g.target.conversions)).toBe(report.target.conversions);
    expect(sum((g) => g.control.size)).toBe(report.control.size);
    expect(sum((g) => g.control.conversions)).toBe(report.control.conversions);
  });

  it('sees ledger changes and new orders on the next report (incremental mirror)', async () => {
    const queued = targets.filter((t) => !outcomes.has(t.seq)).slice(0, 3);
    expect(queued.length).toBe(3);
    const submittedAt = new Date(sendAt.getTime() + 3 * HOUR);
    const entries: Array<[number, Outcome]> = queued.map((t) => [t.seq, { status: 'delivered', submittedAt, parts: 1 }]);
    for (const [seq, o] of entries) outcomes.set(seq, o);
    await applyOutcomes(entries);
    const buyer = queued[0]!;
    await api('POST', '/v1/feedback/conversions', 'operator', [order('LATE-ONE', { customerId: buyer.customerId }, 'P5G', new Date(submittedAt.getTime() + DAY), 7)]);
    attributed.set(buyer.customerId, [7]);

    const report = (await api('GET', `/v1/campaigns/${campaignId}/report`, 'analyst')).json();
    const want = expected([...targets, ...controls], replied);
    expect(report.target).toMatchObject(want.target);
    const mirrored = await ctx.container.warehouse.query<{ n: number }>('SELECT count(*) AS n FROM ledger_outcomes WHERE campaign_id = $1', [campaignId]);
    expect(mirrored[0]!.n).toBe(targets.length + controls.length);
  });

  it('answers CSV with the totals row first', async () => {
    const res = await api('GET', `/v1/campaigns/${campaignId}/report?by=city&format=csv`, 'analyst');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/csv/);
    const lines = res.body.trim().split('\n');
    expect(lines[0]).toMatch(/^group,key,target_size,sent,delivered/);
    expect(lines[1]).toMatch(new RegExp(`^total,,${targets.length},`));
    expect(lines.length).toBe(2 + new Set([...targets, ...controls].map((r) => cityOf.get(r.customerId) ?? null)).size);
  });

  it('prints the report as a table from the CLI', async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    try {
      if (reportCommand.needs !== 'warehouse') throw new Error('report is a warehouse command');
      await reportCommand.run(['campaign', campaignId, '--by', 'city'], ctx.container);
    } finally {
      log.mockRestore();
    }
    const report = (await api('GET', `/v1/campaigns/${campaignId}/report?by=city`, 'analyst')).json();
    expect(lines[0]).toContain(campaignId);
    const header = lines.find((l) => l.startsWith('city'))!;
    expect(header.split(/\s+/).slice(0, 4)).toEqual(['city', 'target', 'sent', 'delivered']);
    const total = lines.find((l) => l.startsWith('total'))!.split(/\s+/);
    expect(total.slice(1, 4)).toEqual([String(report.target.size), String(report.target.sent), String(report.target.delivered)]);
    expect(lines.filter((l) => report.breakdown.some((g: { key: string | null }) => l.startsWith(`${g.key ?? '(none)'} `))).length).toBe(report.breakdown.length);
  });

  it('refuses an unknown column, personal data for analysts, unknown and unlaunched campaigns', async () => {
    const unknown = await api('GET', `/v1/campaigns/${campaignId}/report?by=shoe_size`, 'analyst');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].path).toBe('by');
    const personal = await api('GET', `/v1/campaigns/${campaignId}/report?by=msisdn`, 'analyst');
    expect(personal.statusCode).toBe(403);
    expect((await api('GET', `/v1/campaigns/00000000-0000-4000-8000-000000000000/report`, 'analyst')).statusCode).toBe(404);
    expect((await api('GET', `/v1/campaigns/not-a-uuid/report`, 'analyst')).statusCode).toBe(400);
    const draft = await ctx.campaign({ productId: 'P5G' });
    expect((await api('GET', `/v1/campaigns/${draft}/report`, 'analyst')).statusCode).toBe(409);
  });
});

describe('send and grid reports', () => {
  const period = () => `from=${new Date(sendAt.getTime() - DAY).toISOString()}&to=${new Date(sendAt.getTime() + 2 * DAY).toISOString()}`;

  it('sums sends by error code and by campaign', async () => {
    const byError = (await api('GET', `/v1/reports/sends?by=error&${period()}`, 'analyst')).json();
    const failedBy = (code: string) => [...outcomes.values()].filter((o) => o.status === 'failed' && o.errorCode === code).length;
    const group = (key: string) => byError.groups.find((g: { key: string | null }) => g.key === key);
    expect(group('UNDELIV:045').failed).toBe(failedBy('UNDELIV:045'));
    // Failed at submit has no submit time: it counts by its final time, which is now (outside the period).
    expect(group('SUBMIT:0x0000000B')).toBeUndefined();

    const byCampaign = (await api('GET', `/v1/reports/sends?by=campaign&${period()}`, 'analyst')).json();
    const mine = byCampaign.groups.find((g: { key: string }) => g.key === campaignId);
    const submitted = [...outcomes.values()].filter((o) => o.submittedAt);
    expect(mine).toMatchObject({
      messages: submitted.length,
      sent: submitted.length,
      delivered: submitted.filter((o) => o.status === 'delivered').length,
      expired: submitted.filter((o) => o.status === 'expired').length,
    });
    const csv = await api('GET', `/v1/reports/sends?by=day&format=csv&${period()}`, 'analyst');
    expect(csv.body.split('\n')[0]).toBe('day,label,messages,sent,delivered,failed,expired,suppressed,capped,unknown,cancelled,pending,parts_sent,delivery_rate');
  });

  it('gives per-grid figures with county and city', async () => {
    const from = new Date(sendAt.getTime() - DAY).toISOString();
    const to = new Date(sendAt.getTime() + DAY).toISOString();
    const res = await api('GET', `/v1/reports/grids?from=${from}&to=${to}`, 'analyst');
    expect(res.statusCode, res.body).toBe(200);
    const grids = res.json().grids as Array<Record<string, unknown> & { gridId: string; control: { size: number; conversions: number } }>;
    const all = [...targets, ...controls];
    const totals = new Map<string, { messages: number; delivered: number; conversions: number; controlSize: number; controlConversions: number }>();
    for (const r of all) {
      const key = gridOf.get(r.customerId) ?? 'null';
      const t = totals.get(key) ?? { messages: 0, delivered: 0, conversions: 0, controlSize: 0, controlConversions: 0 };
      if (r.isControl) {
        t.controlSize += 1;
        if (attributed.has(r.customerId)) t.controlConversions += 1;
      } else {
        t.messages += 1;
        if (outcomes.get(r.seq)?.status === 'delivered') t.delivered += 1;
        if (attributed.has(r.customerId)) t.conversions += 1;
      }
      totals.set(key, t);
    }
    expect(grids.length).toBe(totals.size);
    for (const g of grids) {
      const want = totals.get(g.gridId ?? 'null')!;
      expect(g).toMatchObject({ campaigns: want.messages > 0 ? 1 : 0, messages: want.messages, delivered: want.delivered, conversions: want.conversions });
      expect(g.control).toMatchObject({ size: want.controlSize, conversions: want.controlConversions });
      expect(g.uplift === null).toBe(want.controlSize === 0);
    }
    const named = grids.find((g) => g.gridId !== null)!;
    expect(named.county).toEqual(expect.any(String));
    expect(named.city).toEqual(expect.any(String));
  });
});
