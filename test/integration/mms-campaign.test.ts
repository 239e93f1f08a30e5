import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MmscSimulator } from '../../src/gateways/simulator/mmsc.simulator.js';
import { parseDeliveryReportRsp, parseSubmitRsp } from '../../src/gateways/mm7/mm7.soap.js';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const png = (bytes: number) => Buffer.concat([Buffer.from(PNG_SIGNATURE), Buffer.alloc(bytes - PNG_SIGNATURE.length, 7)]);
const IMAGE = png(2_000);
const MMS = {
  subject: '5G 升级',
  parts: [
    { type: 'image', contentType: 'image/png', base64: IMAGE.toString('base64') },
    { type: 'text', text: '尊敬的{name}，您本月流量已用{data_mb}MB' },
  ],
};

describe('an MMS campaign through MM7 to the MMSC simulator', () => {
  let ctx: SendingContext;
  let mmsc: MmscSimulator;
  let base = '';
  let mmscUrl = '';
  const gateway = `mms-${randomUUID().slice(0, 8)}`;
  const token = `tok-${randomUUID()}`;
  const basic = (secret: string) => `Basic ${Buffer.from(`mmsc:${secret}`).toString('base64')}`;

  const createCampaign = (overrides: Record<string, unknown>) =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: ctx.auth('operator'),
      payload: {
        name: `mms-${randomUUID().slice(0, 8)}`,
        segmentId: randomUUID(),
        channel: 'mms',
        gateway,
        message: MMS,
        ...overrides,
      },
    });

  beforeAll(async () => {
    ctx = await createSendingContext();
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    mmsc = new MmscSimulator({
      callbackUrl: `${base}/v1/feedback/mm7?gateway=${gateway}`,
      callbackAuthorization: basic(token),
      reportDelayMs: 30,
      retrievedRate: 0.75,
      failedReportStatus: 'Expired',
      seed: 11,
    });
    const { url } = await mmsc.start();
    mmscUrl = url;
    const put = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/gateways/${gateway}`,
      headers: ctx.auth('admin'),
      payload: { protocol: 'mm7', ratePerSecond: 1_000, url, vaspId: 'VASP01', vasId: 'VAS01', password: '', senderAddress: '10658000', callbackToken: token, recipientsPerRequest: 10 },
    });
    expect(put.statusCode, put.body).toBe(201);
    expect(put.payload).not.toContain(token);
    expect(put.json()).toMatchObject({ protocol: 'mm7', url, passwordSet: false, callbackTokenSet: true });
    await ctx.startSenders();
  });
  afterAll(async () => {
    await ctx?.close();
    await mmsc?.stop();
  });

  it('keeps the callback token when a change leaves it out, and never shows or audits it', async () => {
    const res = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/gateways/${gateway}`,
      headers: ctx.auth('admin'),
      payload: { protocol: 'mm7', ratePerSecond: 1_000, url: mmscUrl, vaspId: 'VASP01', vasId: 'VAS01', senderAddress: '10658000', recipientsPerRequest: 10, timeoutMs: 9_000 },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ timeoutMs: 9_000, callbackTokenSet: true });
    const row = await ctx.container.db.selectFrom('gateways').select('settings').where('name', '=', gateway).executeTakeFirstOrThrow();
    expect(row.settings.callbackToken).toBe(token);
    const audit = await ctx.container.db.selectFrom('audit_log').select(['before', 'after']).where('target_id', '=', gateway).execute();
    expect(JSON.stringify(audit)).not.toContain(token);
  });

  it('refuses what does not fit: SMS text on mms, MMS on an SMPP gateway, SMS on an MM7 gateway, too big, not the image it says', async () => {
    const paths = async (overrides: Record<string, unknown>) => {
      const res = await createCampaign(overrides);
      expect(res.statusCode, res.body).toBe(400);
      return (res.json() as { errors: Array<{ path: string; message: string }> }).errors;
    };
    expect(await paths({ message: { text: 'hello' } })).toContainEqual({ path: 'message', message: 'an MMS campaign carries {subject, parts}' });
    expect((await paths({ gateway: 'simulator' })).find((e) => e.path === 'gateway')?.message).toMatch(/smpp gateway; MMS needs an mm7 one/);
    expect((await paths({ channel: 'sms', message: { text: 'hello' } })).find((e) => e.path === 'gateway')?.message).toMatch(/mm7 \(MMS\) gateway/);
    // 131,072 bytes allowed: 130,000 of image plus subject and text go over.
    const big = { ...MMS, parts: [{ type: 'image', contentType: 'image/png', base64: png(130_000).toString('base64') }, { type: 'text', text: 'x'.repeat(2_000) }] };
    const tooBig = (await paths({ message: big })).find((e) => e.path === 'message.parts');
    expect(tooBig?.message).toMatch(/132,0\d\d bytes .* at most 131,072 \(MMS_MAX_BYTES\)/);
    const jpegCalledPng = { ...MMS, parts: [{ type: 'image', contentType: 'image/png', base64: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]).toString('base64') }] };
    expect((await paths({ message: jpegCalledPng })).map((e) => e.path)).toContain('message.parts[0].base64');
  });

  it('sends every target recipient once, rendered, and the delivery reports move the ledger to delivered or failed', async () => {
    // One city (about a hundred customers): every report goes through HTTP, the sink and the feedback loop.
    const id = await ctx.campaign({ channel: 'mms', gateway, message: MMS }, { field: 'city', op: 'eq', value: '湛江' });
    expect((await ctx.launch(id)).status).toBe('sending');
    await ctx.waitFor(id, (c) => c.status === 'completed');
    // Reports arrive over HTTP, go through the sink into gateway_receipts, and the feedback loop applies them.
    await ctx.waitFor(id, (c) => c.progress !== null && c.progress.submitted === 0 && c.progress.delivered + c.progress.failed > 0);
    const { progress } = await ctx.get(id);
    const { db } = ctx.container;
    const ledger = await db.selectFrom('message_ledger').select(['msisdn', 'status', 'is_control', 'parts', 'error_code']).where('campaign_id', '=', id).execute();
    const sent = ledger.filter((r) => r.status === 'delivered' || r.status === 'failed');
    expect(sent.length).toBeGreaterThan(10);
    expect(progress!.delivered + progress!.failed).toBe(sent.length);
    expect(progress!.queued + progress!.sending + progress!.unknown + progress!.submitted).toBe(0);
    for (const row of ledger) expect(mmsc.submitsFor(row.msisdn), row.msisdn).toBe(sent.includes(row) ? 1 : 0);
    expect(sent.every((r) => r.parts === 1)).toBe(true);
    // retrievedRate 0.75: both outcomes occur, and a failed one says what the MMSC reported.
    const failed = sent.filter((r) => r.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(sent.length);
    expect(new Set(failed.map((r) => r.error_code))).toEqual(new Set(['MM7_Expired']));
    // What the customer gets: the image as uploaded, the text rendered for them.
    const [received] = mmsc.messagesFor(sent[0]!.msisdn);
    expect(received!.subject).toBe('5G 升级');
    expect(received!.parts[0]).toEqual({ type: 'image', contentType: 'image/png', content: IMAGE });
    expect(received!.parts[1]).toMatchObject({ type: 'text', text: expect.stringMatching(/^尊敬的.+，您本月流量已用\d+MB$/) });
    // Same content is batched, personalised content is not: one request per recipient here.
    expect(mmsc.stats.reportsFailed).toBe(0);
  });

  it('answers the MMSC 401 without the right token (unknown gateways alike) and a SOAP fault for an unreadable report', async () => {
    const post = (query: string, authorization: string | undefined, payload: string) =>
      ctx.app.inject({ method: 'POST', url: `/v1/feedback/mm7?${query}`, headers: { 'content-type': 'text/xml; charset=utf-8', ...(authorization ? { authorization } : {}) }, payload });
    const report = '<Envelope><Body><DeliveryReportReq><MessageID>x</MessageID></DeliveryReportReq></Body></Envelope>';
    for (const [query, authorization] of [
      [`gateway=${gateway}`, undefined],
      [`gateway=${gateway}`, basic('guess-guess-guess')],
      ['gateway=no-such-gateway', basic(token)],
      ['gateway=simulator', basic(token)],
    ] as const) {
      const res = await post(query, authorization, report);
      expect(res.statusCode, `${query} ${authorization}`).toBe(401);
      expect(res.json().code).toBe('UNAUTHENTICATED');
    }
    const garbage = await post(`gateway=${gateway}`, `Bearer ${token}`, report);
    expect(garbage.statusCode).toBe(500);
    expect(garbage.headers['content-type']).toMatch(/^text\/xml/);
    expect(parseSubmitRsp(garbage.body).statusCode).toBe(4004);
    const good = await post(
      `gateway=${gateway}`,
      `Bearer ${token}`,
      `<Envelope><Header><TransactionID>t-1</TransactionID></Header><Body><DeliveryReportReq><MM7Version>6.8.0</MM7Version><MessageID>UNMATCHED</MessageID>
        <Recipient><Number>13800000000</Number></Recipient><MMStatus>Retrieved</MMStatus></DeliveryReportReq></Body></Envelope>`,
    );
    expect(good.statusCode).toBe(200);
    expect(parseDeliveryReportRsp(good.body)).toEqual({ transactionId: 't-1', statusCode: 1000, statusText: 'Success' });
  });
});
