import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReceiptProcessor } from '../../src/feedback/receipt.processor.js';
import { createLogger } from '../../src/logger.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { insertMessageParts, ledgerRow, seedSentCampaign } from '../helpers/feedback.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';

const GATEWAY = 'gw-test';
const silent = createLogger('silent');

describe('delivery receipts → ledger', () => {
  let ctx: TestContext;
  const databaseUrl = ownDatabaseUrl();
  // Distinct gateway ids per test, so each test's receipts touch only its own messages; spelled
  // canonically (lower-case hex, no leading zero) as the adapters store them.
  const id = () => `a${randomUUID().replaceAll('-', '').slice(0, 15)}`;
  // The HTTP ingestion tries an unmatched receipt again after 5 s: make that time pass.
  const retryNow = (gatewayMessageId: string) =>
    sql`UPDATE gateway_receipts SET retry_at = now() WHERE gateway_message_id = ${gatewayMessageId}`.execute(ctx.container.db);

  beforeAll(async () => {
    ctx = await createTestContext({ DATABASE_URL: databaseUrl });
  });
  afterAll(async () => {
    await ctx?.close();
    await dropOwnDatabase(databaseUrl);
  });

  const post = async (receipts: unknown[], role: 'operator' | 'admin' | 'analyst' = 'operator') =>
    ctx.app.inject({ method: 'POST', url: '/v1/feedback/receipts', headers: ctx.auth(role), payload: receipts as object });
  const receipt = (gatewayMessageId: string, status: string, errorCode?: string) => ({
    gateway: GATEWAY,
    gatewayMessageId,
    status,
    ...(errorCode ? { errorCode } : {}),
  });

  it('delivers a two-part message only when both parts are DELIVRD, and fails it on one UNDELIV with its code', async () => {
    const [a1, a2, b1, b2] = [id(), id(), id(), id()];
    const campaign = await seedSentCampaign(ctx.container.db, {
      gateway: GATEWAY,
      messages: [
        { seq: 0, msisdn: '13800000001', parts: [a1, a2] },
        { seq: 1, msisdn: '13800000002', parts: [b1, b2] },
      ],
    });
    const first = await post([receipt(a1, 'DELIVRD')]);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ received: 1, matched: 1, delivered: 0, failed: 0, awaitingSubmit: 0, deadLettered: 0 });
    expect((await ledgerRow(ctx.container.db, campaign, 0)).status).toBe('submitted');

    const second = await post([{ ...receipt(a2, 'DELIVRD'), doneAt: '2026-11-30T10:00:00+08:00' }]);
    expect(second.json()).toMatchObject({ delivered: 1, failed: 0 });
    const delivered = await ledgerRow(ctx.container.db, campaign, 0);
    expect(delivered.status).toBe('delivered');
    expect(delivered.error_code).toBeNull();
    expect(delivered.final_at?.toISOString()).toBe('2026-11-30T02:00:00.000Z');

    expect((await post([receipt(b2, 'UNDELIV', '034')])).json()).toMatchObject({ delivered: 0, failed: 1 });
    expect(await ledgerRow(ctx.container.db, campaign, 1)).toMatchObject({ status: 'failed', error_code: '034' });
    // The other part delivered afterwards changes nothing.
    expect((await post([receipt(b1, 'DELIVRD')])).json()).toMatchObject({ delivered: 0, failed: 0 });
    expect(await ledgerRow(ctx.container.db, campaign, 1)).toMatchObject({ status: 'failed', error_code: '034' });
  });

  it('changes nothing when the same receipt comes again, and never lets a late intermediate or contrary receipt overwrite a final state', async () => {
    const [c, d, e, f] = [id(), id(), id(), id()];
    const campaign = await seedSentCampaign(ctx.container.db, {
      gateway: GATEWAY,
      messages: [
        { seq: 0, msisdn: '13800000011', parts: [c] },
        { seq: 1, msisdn: '13800000012', parts: [d] },
        { seq: 2, msisdn: '13800000013', parts: [e] },
        { seq: 3, msisdn: '13800000014', parts: [f] },
      ],
    });
    expect((await post([receipt(c, 'DELIVRD'), receipt(c, 'DELIVRD')])).json()).toMatchObject({ received: 2, matched: 2, delivered: 1 });
    const once = await ledgerRow(ctx.container.db, campaign, 0);
    expect((await post([receipt(c, 'DELIVRD')])).json()).toMatchObject({ delivered: 0, failed: 0 });
    expect(await ledgerRow(ctx.container.db, campaign, 0)).toEqual(once);

    // Out of order: ENROUTE and ACCEPTD after DELIVRD.
    await post([receipt(d, 'DELIVRD')]);
    await post([receipt(d, 'ENROUTE'), receipt(d, 'ACCEPTD')]);
    expect((await ledgerRow(ctx.container.db, campaign, 1)).status).toBe('delivered');

    // Intermediate first: nothing moves until the final one.
    await post([receipt(e, 'ENROUTE')]);
    expect((await ledgerRow(ctx.container.db, campaign, 2)).status).toBe('submitted');
    await post([receipt(e, 'EXPIRED')]);
    expect(await ledgerRow(ctx.container.db, campaign, 2)).toMatchObject({ status: 'failed', error_code: 'EXPIRED' });

    // A contrary final receipt later: the first final one stands.
    await post([receipt(f, 'DELIVRD')]);
    await post([receipt(f, 'UNDELIV', '001')]);
    expect((await ledgerRow(ctx.container.db, campaign, 3)).status).toBe('delivered');
  });

  it('keeps a receipt that overtook its submit response and applies it once the message parts are recorded', async () => {
    const late = id();
    const message = { seq: 0, msisdn: '13800000021', parts: [late] };
    const campaign = await seedSentCampaign(ctx.container.db, { gateway: GATEWAY, messages: [message], withoutParts: true });
    expect((await post([receipt(late, 'DELIVRD')])).json()).toMatchObject({ matched: 0, awaitingSubmit: 1, deadLettered: 0 });
    expect((await ledgerRow(ctx.container.db, campaign, 0)).status).toBe('submitted');

    await insertMessageParts(ctx.container.db, GATEWAY, campaign, message);
    await retryNow(late);
    const processor = new ReceiptProcessor({ db: ctx.container.db, logger: silent, graceSeconds: 900, expiryHours: 72, retryAfterSeconds: 0 });
    const pass = await processor.applyPending();
    expect(pass).toMatchObject({ matched: 1, delivered: 1 });
    expect((await ledgerRow(ctx.container.db, campaign, 0)).status).toBe('delivered');
  });

  it('moves receipts whose id stays unknown past the grace period to the dead letters, counted and listed', async () => {
    const unknown = id();
    const before = (await ctx.app.inject({ method: 'GET', url: '/v1/feedback/status', headers: ctx.auth('analyst') })).json();
    expect((await post([receipt(unknown, 'DELIVRD', '000')])).json()).toMatchObject({ awaitingSubmit: 1 });
    await retryNow(unknown);
    // Not yet: within the grace period it waits.
    const patient = new ReceiptProcessor({ db: ctx.container.db, logger: silent, graceSeconds: 900, expiryHours: 72, retryAfterSeconds: 0 });
    expect(await patient.applyPending()).toMatchObject({ awaitingSubmit: 1, deadLettered: 0 });

    const impatient = new ReceiptProcessor({ db: ctx.container.db, logger: silent, graceSeconds: 0, expiryHours: 72, retryAfterSeconds: 0 });
    await retryNow(unknown);
    expect(await impatient.applyPending()).toMatchObject({ deadLettered: 1 });
    expect(await impatient.applyPending()).toMatchObject({ receipts: 0 });

    const status = (await ctx.app.inject({ method: 'GET', url: '/v1/feedback/status', headers: ctx.auth('analyst') })).json();
    expect(status.receipts.deadLetters).toBe(before.receipts.deadLetters + 1);
    expect(status.receipts.pending).toBe(0);
    const page = await ctx.app.inject({ method: 'GET', url: `/v1/feedback/dead-letters?gateway=${GATEWAY}`, headers: ctx.auth('operator') });
    expect(page.statusCode).toBe(200);
    expect(page.json().deadLetters[0]).toMatchObject({ gateway: GATEWAY, gatewayMessageId: unknown, status: 'DELIVRD', reason: 'unknown gateway message id' });
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/feedback/dead-letters', headers: ctx.auth('analyst') })).statusCode).toBe(403);
  });

  it('expires messages with no final receipt after the expiry, and closes a finished campaign with nothing left', async () => {
    const { db } = ctx.container;
    const open = await seedSentCampaign(db, {
      gateway: GATEWAY,
      status: 'completed',
      launchedHoursAgo: 100,
      messages: [
        { seq: 0, msisdn: '13800000031', parts: [id()], submittedHoursAgo: 80 },
        { seq: 1, msisdn: '13800000032', parts: [id()], submittedHoursAgo: 1 },
      ],
    });
    const deliveredPart = id();
    const done = await seedSentCampaign(db, {
      gateway: GATEWAY,
      status: 'completed',
      launchedHoursAgo: 100,
      messages: [
        { seq: 0, msisdn: '13800000033', parts: [id()], submittedHoursAgo: 90 },
        { seq: 1, msisdn: '13800000034', parts: [deliveredPart], submittedHoursAgo: 90 },
      ],
    });
    await post([receipt(deliveredPart, 'DELIVRD')]);
    const processor = new ReceiptProcessor({ db, logger: silent, graceSeconds: 900, expiryHours: 72 });
    const outcome = await processor.expireOverdue();
    expect(outcome).toEqual({ expired: 2, closed: 1 });
    expect(await ledgerRow(db, open, 0)).toMatchObject({ status: 'expired', error_code: 'NO_RECEIPT' });
    expect((await ledgerRow(db, open, 1)).status).toBe('submitted');
    expect((await ledgerRow(db, done, 0)).status).toBe('expired');
    expect((await ledgerRow(db, done, 1)).status).toBe('delivered');
    const closed = await db.selectFrom('campaigns').select(['id', 'receipts_closed_at']).where('id', 'in', [open, done]).execute();
    expect(closed.find((c) => c.id === done)?.receipts_closed_at).not.toBeNull();
    expect(closed.find((c) => c.id === open)?.receipts_closed_at).toBeNull();
    expect(await processor.expireOverdue()).toEqual({ expired: 0, closed: 0 });
  });

  it('answers a malformed receipt with 400 naming its JSON path, and stores nothing', async () => {
    const bad = id();
    const response = await post([receipt(bad, 'DELIVRD'), receipt(bad, 'DELIVERED'), { ...receipt(bad, 'UNDELIV'), doneAt: 'yesterday' }]);
    expect(response.statusCode).toBe(400);
    const paths = (response.json().errors as Array<{ path: string }>).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['[1].status', '[2].doneAt']));
    const stored = await ctx.container.db.selectFrom('gateway_receipts').select('id').where('gateway_message_id', '=', bad).execute();
    expect(stored).toEqual([]);
    expect((await post([receipt(bad, 'DELIVRD')], 'analyst')).statusCode).toBe(403);
  });

  it('applies shuffled receipts with duplicates across many batches exactly as a per-part oracle says', async () => {
    const { db } = ctx.container;
    // A seeded draw, so a failure can be replayed.
    let state = 20261201;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const messages = Array.from({ length: 300 }, (_, seq) => ({
      seq,
      msisdn: `139${String(seq).padStart(8, '0')}`,
      parts: Array.from({ length: 1 + Math.floor(random() * 3) }, () => id()),
    }));
    const gateway = 'gw-oracle';
    const campaign = await seedSentCampaign(db, { gateway, messages });
    const statuses = ['DELIVRD', 'DELIVRD', 'DELIVRD', 'DELIVRD', 'UNDELIV', 'REJECTD', 'ENROUTE', 'ACCEPTD'];
    const receipts: Array<{ gatewayMessageId: string; status: string }> = [];
    for (const m of messages) {
      for (const part of m.parts) {
        if (random() < 0.1) continue; // no receipt for this part
        receipts.push({ gatewayMessageId: part, status: statuses[Math.floor(random() * statuses.length)]! });
        if (random() < 0.3) receipts.push({ gatewayMessageId: part, status: statuses[Math.floor(random() * statuses.length)]! });
      }
    }
    for (const r of [...receipts]) if (random() < 0.05) receipts.push(r); // duplicates
    for (let i = receipts.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [receipts[i], receipts[j]] = [receipts[j]!, receipts[i]!];
    }

    // Oracle: each part's first final receipt in arrival order; any failure fails the message,
    // every part DELIVRD delivers it, otherwise it stays submitted.
    const firstFinal = new Map<string, string>();
    for (const r of receipts) if (!['ENROUTE', 'ACCEPTD'].includes(r.status) && !firstFinal.has(r.gatewayMessageId)) firstFinal.set(r.gatewayMessageId, r.status);
    const expected = messages.map((m) => {
      const finals = m.parts.map((p) => firstFinal.get(p));
      if (finals.some((s) => s !== undefined && s !== 'DELIVRD')) return 'failed';
      return finals.every((s) => s === 'DELIVRD') ? 'delivered' : 'submitted';
    });

    await sql`
      INSERT INTO gateway_receipts (gateway, gateway_message_id, status, received_at)
      SELECT ${gateway}, m, s, now() FROM unnest(${receipts.map((r) => r.gatewayMessageId)}::text[], ${receipts.map((r) => r.status)}::text[])
        WITH ORDINALITY AS v(m, s, n) ORDER BY n`.execute(db);
    const processor = new ReceiptProcessor({ db, logger: silent, graceSeconds: 900, expiryHours: 72, batchSize: 37 });
    const pass = await processor.applyPending();
    expect(pass?.matched).toBe(receipts.length);
    const rows = await db.selectFrom('message_ledger').select(['seq', 'status']).where('campaign_id', '=', campaign).orderBy('seq').execute();
    expect(rows.map((r) => r.status)).toEqual(expected);
    expect(pass?.delivered).toBe(expected.filter((s) => s === 'delivered').length);
    expect(pass?.failed).toBe(expected.filter((s) => s === 'failed').length);
  });
});
