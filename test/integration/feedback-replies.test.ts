import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Over 70 UCS-2 characters once signed and suffixed: every message goes in two parts.
const LONG_TEXT = '尊敬的{name}，您本月流量已用{data_mb}MB，现在升级5G套餐每月只需再加十元，即可享受双倍流量和更快网速，详情请回复咨询或拨打客服热线。';

describe('receipts and replies end to end through the SMPP simulator', () => {
  let ctx: SendingContext;
  let first: string;
  let delivered: Array<{ msisdn: string; customer_id: number }>;

  const inject = async (method: 'GET' | 'POST' | 'PUT', url: string, headers: { authorization: string }, payload?: unknown) =>
    ctx.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  const replies = (msisdn: string) =>
    ctx.container.db.selectFrom('campaign_replies').selectAll().where('msisdn', '=', msisdn).orderBy('mo_id').execute();
  const optOut = (msisdn: string) =>
    ctx.container.db
      .selectFrom('list_entries')
      .select(['reason', 'source'])
      .where('list_name', '=', 'opt_out')
      .where('msisdn', '=', msisdn)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();

  beforeAll(async () => {
    // A second campaign the same day must not be capped; the loop runs every 100 ms.
    ctx = await createSendingContext({ FEEDBACK_INTERVAL_MS: '100', FREQUENCY_CAP_PER_DAY: '10' });
    await ctx.startSenders();
    const policy = await inject('PUT', '/v1/exclusion-policies/opt-out-only', ctx.auth('admin'), { steps: [{ type: 'list', list: 'opt_out' }] });
    expect(policy.statusCode).toBeLessThan(300);
    first = await ctx.campaign({ message: { text: LONG_TEXT, signature: '【中国移动】', optOutSuffix: '回T退订' } });
    await ctx.launch(first);
    await ctx.waitFor(first, (c) => c.status === 'completed');
  });
  afterAll(async () => ctx?.close());

  it('moves every two-part message to delivered once the simulator has receipted both parts', async () => {
    const { db } = ctx.container;
    const { progress } = await until('every receipt applied', async () => {
      const c = await ctx.get(first);
      return c.progress!.submitted === 0 && c.progress!.delivered > 0 ? c : undefined;
    });
    const parts = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM message_parts WHERE campaign_id = ${first} GROUP BY seq HAVING count(*) <> 2`.execute(db);
    expect(parts.rows).toEqual([]);
    const sent = await db.selectFrom('message_ledger').select(['msisdn', 'customer_id', 'status']).where('campaign_id', '=', first).where('status', '=', 'delivered').execute();
    expect(sent.length).toBe(progress!.delivered);
    // The simulator says DELIVRD for every part: every message sent is delivered, none failed.
    expect(progress!.failed).toBe(0);
    delivered = sent.map((r) => ({ msisdn: r.msisdn, customer_id: Number(r.customer_id) })).sort((a, b) => a.msisdn.localeCompare(b.msisdn));
    expect(delivered.length).toBeGreaterThanOrEqual(6);
  });

  it('reads MO from the simulator: a full-width TD opts the number out naming the campaign, other text is a response', async () => {
    const [optingOut, asking] = [delivered[0]!, delivered[1]!];
    expect(ctx.simulator.sendMo(optingOut.msisdn, 'ＴＤ')).toBeGreaterThan(0);
    ctx.simulator.sendMo(asking.msisdn, '多少钱？');
    const [opted] = await until('the TD reply', async () => (await replies(optingOut.msisdn)).length === 1 && replies(optingOut.msisdn));
    expect(opted).toMatchObject({ campaign_id: first, customer_id: optingOut.customer_id, kind: 'opt_out', normalised: 'TD', text: 'ＴＤ', gateway: 'simulator' });
    const entry = await optOut(optingOut.msisdn);
    expect(entry?.source).toBe('reply');
    expect(entry?.reason).toContain(first);
    const [asked] = await until('the question', async () => (await replies(asking.msisdn)).length === 1 && replies(asking.msisdn));
    expect(asked).toMatchObject({ campaign_id: first, kind: 'response', normalised: '多少钱' });
    expect(await optOut(asking.msisdn)).toBeUndefined();
  });

  it('takes replies over HTTP: keywords in any width and case, START re-subscribes, unknown senders are kept unattributed', async () => {
    const number = delivered[2]!.msisdn;
    const td = await inject('POST', '/v1/feedback/replies', ctx.auth('operator'), [{ msisdn: number, text: ' td。' }]);
    expect(td.statusCode).toBe(200);
    expect(td.json()).toMatchObject({ received: 1, recorded: 1, optOuts: 1, responses: 0, unattributed: 0 });
    expect(await optOut(number)).toBeDefined();

    const start = await inject('POST', '/v1/feedback/replies', ctx.auth('admin'), [{ msisdn: `+86${number}`, text: 'Start', gateway: 'simulator' }]);
    expect(start.json()).toMatchObject({ resubscribed: 1, optOuts: 0 });
    expect(await optOut(number)).toBeUndefined();
    expect((await replies(number)).map((r) => r.kind)).toEqual(['opt_out', 'start']);

    const stranger = '19900000001';
    expect((await inject('POST', '/v1/feedback/replies', ctx.auth('operator'), [{ msisdn: stranger, text: 'who is this' }])).json()).toMatchObject({ unattributed: 1, responses: 1 });
    expect((await replies(stranger))[0]).toMatchObject({ campaign_id: null, customer_id: null, kind: 'response' });

    const bad = await inject('POST', '/v1/feedback/replies', ctx.auth('operator'), [{ msisdn: number, text: 'T' }, { msisdn: 'not-a-number', text: 'T' }]);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors).toEqual([expect.objectContaining({ path: '[1].msisdn' })]);
    expect(await optOut(number)).toBeUndefined();
  });

  it('records an MO processed twice once', async () => {
    const number = delivered[3]!.msisdn;
    await inject('POST', '/v1/feedback/replies', ctx.auth('operator'), [{ msisdn: number, text: '好的' }]);
    const [reply] = await replies(number);
    await sql`UPDATE mo_messages SET processed_at = NULL WHERE id = ${reply!.mo_id}`.execute(ctx.container.db);
    await until('the MO processed again', async () => {
      const mo = await ctx.container.db.selectFrom('mo_messages').select('processed_at').where('id', '=', String(reply!.mo_id)).executeTakeFirstOrThrow();
      return mo.processed_at !== null;
    });
    expect(await replies(number)).toHaveLength(1);
  });

  it('keeps an opted-out number out of later campaigns: excluded at targeting, or suppressed at send time after it', async () => {
    const optedEarlier = delivered[0]!.msisdn; // TD through the simulator, before the next targeting
    const optsOutLate = delivered[4]!.msisdn; // TD after targeting, before launch
    const later = await ctx.campaign({ exclusionPolicy: 'opt-out-only', controlGroupPercent: 0 });
    expect((await inject('POST', `/v1/campaigns/${later}/target`, ctx.auth('operator'))).statusCode).toBe(200);
    const late = await inject('POST', '/v1/feedback/replies', ctx.auth('operator'), [{ msisdn: optsOutLate, text: '退订' }]);
    expect(late.json()).toMatchObject({ optOuts: 1 });
    // The reason names the campaign that messaged the number, not the one merely targeted.
    expect((await optOut(optsOutLate))?.reason).toContain(first);
    expect((await inject('POST', `/v1/campaigns/${later}/approve`, ctx.approver, {})).statusCode).toBe(200);
    expect((await inject('POST', `/v1/campaigns/${later}/launch`, ctx.auth('scheduler'), {})).statusCode).toBe(200);
    await ctx.waitFor(later, (c) => c.status === 'completed');

    const ledger = await ctx.container.db.selectFrom('message_ledger').select(['msisdn', 'status']).where('campaign_id', '=', later).execute();
    const status = new Map(ledger.map((r) => [r.msisdn, r.status]));
    expect(status.has(optedEarlier)).toBe(false);
    expect(status.get(optsOutLate)).toBe('suppressed');
    expect(['submitted', 'delivered']).toContain(status.get(delivered[5]!.msisdn));
    expect(ctx.simulator.submitsFor(optedEarlier)).toBe(1);
    expect(ctx.simulator.submitsFor(optsOutLate)).toBe(1);
    expect(ctx.simulator.submitsFor(delivered[5]!.msisdn)).toBe(2);
  });
});
