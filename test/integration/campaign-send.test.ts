import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

describe('a campaign from launch to completed through the SMPP simulator', () => {
  let ctx: SendingContext;

  beforeAll(async () => {
    ctx = await createSendingContext();
    await ctx.startSenders();
  });
  afterAll(async () => ctx?.close());

  it('freezes the target into the ledger and sends every target recipient exactly once', async () => {
    const id = await ctx.campaign();
    const launched = await ctx.launch(id);
    expect(launched.status).toBe('sending');
    await ctx.waitFor(id, (c) => c.status === 'completed');
    const { progress } = await ctx.get(id);
    const { db } = ctx.container;
    const ledger = await db
      .selectFrom('message_ledger')
      .select(['msisdn', 'status', 'is_control'])
      .where('campaign_id', '=', id)
      .execute();
    const targets = ledger.filter((r) => !r.is_control);
    expect(progress!.total).toBe(targets.length);
    expect(progress!.control).toBe(ledger.length - targets.length);
    // Sent: submitted, or already delivered by the simulator's receipt.
    const sent = targets.filter((r) => r.status === 'submitted' || r.status === 'delivered');
    expect(progress!.submitted + progress!.delivered).toBe(sent.length);
    expect(progress!.submitted + progress!.delivered + progress!.suppressed + progress!.capped).toBe(progress!.total);
    expect(progress!.queued + progress!.sending + progress!.unknown).toBe(0);
    // The simulator saw each submitted number once, and no control customer.
    for (const row of ledger) expect(ctx.simulator.submitsFor(row.msisdn)).toBe(row.status === 'submitted' || row.status === 'delivered' ? 1 : 0);
    const contacts = await db.selectFrom('contact_history').select((eb) => eb.fn.countAll<number>().as('n')).where('campaign_id', '=', id).executeTakeFirstOrThrow();
    expect(Number(contacts.n)).toBe(sent.length);
    // What the customer reads: signature first, rendered, opt-out suffix last.
    const sample = sent[0]!;
    expect(ctx.simulator.messagesFor(sample.msisdn)[0]).toMatch(/^【中国移动】尊敬的.+，您本月流量已用\d+MB回T退订$/);
  });
});
