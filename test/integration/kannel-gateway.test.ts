import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway, OutboundMessage, SubmitOutcome } from '../../src/gateways/gateway.js';
import { KannelGateway } from '../../src/gateways/kannel/kannel.gateway.js';
import { dlrToken } from '../../src/gateways/kannel/kannel.protocol.js';
import { SmscSimulator } from '../../src/gateways/simulator/smsc.simulator.js';
import { applyMessageOutcomes } from '../../src/feedback/receipt.repository.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { ledgerRow, seedSentCampaign } from '../helpers/feedback.js';
import { kannelInstalled, startKannel, type RunningKannel } from '../helpers/kannel.js';

// The real Kannel (Debian package `kannel`, installed by .ci/run): bearerbox + smsbox on loopback,
// bearerbox's SMPP client bound to our simulator, so that what Kannel does on the SMPP side (and
// what it reports back) is observed, not assumed. Skipped only when bearerbox is not installed
// (.ci/run installs it), with the reason in the suite's name; REQUIRE_KANNEL=1 makes that an error.
const INSTALLED = kannelInstalled();
if (!INSTALLED && process.env.REQUIRE_KANNEL === '1') throw new Error('REQUIRE_KANNEL=1 but bearerbox/smsbox are not installed (apt-get install kannel)');
const SUITE = INSTALLED
  ? 'Kannel gateway against the real Kannel (bearerbox + smsbox → SMPP simulator)'
  : 'Kannel gateway against the real Kannel — SKIPPED: bearerbox is not installed (apt-get install kannel; .ci/run installs it)';

const SMSC = { systemId: 'quanke', password: 'sim-pw' };
const SENDSMS = { username: 'quanke', password: `pw-${randomUUID().slice(0, 8)}&x=1` };
const FROM = '1069000';

describe.skipIf(!INSTALLED)(SUITE, () => {
  let ctx: TestContext;
  let simulator: SmscSimulator;
  let kannel: RunningKannel;
  let base: string;
  const name = `kannel-${randomUUID().slice(0, 8)}`;
  let counter = 0;

  const msisdn = () => `1370${String(process.pid % 1000).padStart(3, '0')}${String((counter += 1)).padStart(4, '0')}`;
  const gateway = (): Promise<Gateway> => ctx.container.gateways.get(name);
  const submitOne = async (message: OutboundMessage): Promise<SubmitOutcome> => (await (await gateway()).submit([message]))[0]!;

  async function waitFor<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})\n${kannel.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function receiptsOf(id: string): Promise<Array<{ status: string; error_code: string | null; done_at: Date | null }>> {
    const result = await sql<{ status: string; error_code: string | null; done_at: Date | null }>`
      SELECT status, error_code, done_at FROM gateway_receipts WHERE gateway = ${name} AND gateway_message_id = ${id} ORDER BY id`.execute(ctx.container.db);
    return result.rows;
  }

  const waitForStatus = (id: string, status: string) =>
    waitFor(() => receiptsOf(id), (rows) => rows.some((r) => r.status === status), `receipt ${status} for ${id}`);

  function acceptedId(outcome: SubmitOutcome): string {
    expect(outcome).toMatchObject({ kind: 'accepted' });
    if (outcome.kind !== 'accepted') throw new Error('not accepted');
    expect(outcome.gatewayMessageIds).toHaveLength(1);
    return outcome.gatewayMessageIds[0]!;
  }

  beforeAll(async () => {
    simulator = new SmscSimulator({ ...SMSC, seed: 11, receiptDelayMs: 50 });
    const { port } = await simulator.start();
    ctx = await createTestContext();
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
    const token = dlrToken(SENDSMS.password, name);
    kannel = await startKannel({
      smsc: { port, ...SMSC },
      sendsms: SENDSMS,
      moUrl: `${base}/v1/feedback/kannel/mo?gateway=${name}&token=${token}&from=%p&to=%P&text=%b&coding=%c&charset=%C&ts=%T`,
    });
    await waitFor(() => simulator.boundSessions, (n) => n > 0, 'Kannel binds to the SMPP simulator');
    const put = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/gateways/${name}`,
      headers: ctx.auth('admin'),
      payload: {
        protocol: 'kannel',
        ratePerSecond: 500,
        sendsmsUrl: kannel.sendsmsUrl,
        username: SENDSMS.username,
        password: SENDSMS.password,
        from: FROM,
        dlrUrlBase: base,
        maxConcurrent: 10,
        timeoutMs: 5_000,
      },
    });
    expect(put.statusCode, put.body).toBe(201);
  });

  afterAll(async () => {
    await kannel?.stop();
    await ctx?.close();
    await simulator?.stop();
  });

  it('shows the gateway with its settings but never the password', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: `/v1/gateways/${name}`, headers: ctx.auth('admin') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ protocol: 'kannel', username: SENDSMS.username, from: FROM, passwordSet: true });
    expect(res.body).not.toContain(SENDSMS.password);
    expect(res.body).not.toContain(encodeURIComponent(SENDSMS.password));
  });

  it('sends GSM and Chinese texts (a long one concatenated by Kannel) through to the SMSC, and their DLRs become receipts that move the ledger', async () => {
    const texts = [
      'Quanke: your 5G plan {promo} costs €10 ~ reply T to stop',
      '尊敬的客户，您本月流量已用完。回T退订',
      // 100 UCS-2 characters: two parts (67 + 33), which Kannel sends with a concatenation UDH.
      `【中国移动】${'流量包优惠'.repeat(18)}回T退订`.slice(0, 100),
    ];
    const numbers = texts.map(() => msisdn());
    const submitsBefore = simulator.totalSubmits;
    const outcomes = await (await gateway()).submit(texts.map((text, i) => ({ ref: `m${i}`, msisdn: numbers[i]!, text })));
    const ids = texts.map((_, i) => acceptedId(outcomes.find((o) => o.ref === `m${i}`)!));
    expect(new Set(ids).size).toBe(3);

    // Kannel → SMPP really happened: the simulator holds each text whole, decoded from what it received.
    for (const [i, text] of texts.entries()) {
      await waitFor(() => simulator.messagesFor(numbers[i]!), (m) => m.length === 1, `the simulator receives message ${i}`);
      expect(simulator.messagesFor(numbers[i]!)).toEqual([text]);
    }
    // 1 + 1 + 2 parts (the long text was concatenated, not cut or sent as separate messages).
    expect(simulator.totalSubmits - submitsBefore).toBe(4);

    for (const id of ids) {
      const rows = await waitForStatus(id, 'DELIVRD');
      expect(rows.map((r) => r.status)).toContain('ACCEPTD'); // DLR type 8: the SMSC took it
      const delivered = rows.find((r) => r.status === 'DELIVRD')!;
      expect(delivered.error_code).toBeNull();
      expect(delivered.done_at).not.toBeNull();
    }

    const campaignId = await seedSentCampaign(ctx.container.db, {
      gateway: name,
      messages: ids.map((id, i) => ({ seq: i + 1, msisdn: numbers[i]!, parts: [id] })),
    });
    expect(await applyMessageOutcomes(ctx.container.db, campaignId, [1, 2, 3])).toEqual({ delivered: 3, failed: 0 });
    expect(await ledgerRow(ctx.container.db, campaignId, 3)).toMatchObject({ status: 'delivered', error_code: null });
  });

  it('reports an undelivered message (DLR type 2) with the SMSC error, and the ledger row fails with it', async () => {
    simulator.configure({ receiptStatus: 0 });
    try {
      const number = msisdn();
      const id = acceptedId(await submitOne({ ref: 'u', msisdn: number, text: 'undeliverable test' }));
      const rows = await waitForStatus(id, 'UNDELIV');
      expect(rows.find((r) => r.status === 'UNDELIV')).toMatchObject({ error_code: '001' });
      expect(rows.some((r) => r.status === 'DELIVRD')).toBe(false);
      const campaignId = await seedSentCampaign(ctx.container.db, { gateway: name, messages: [{ seq: 1, msisdn: number, parts: [id] }] });
      expect(await applyMessageOutcomes(ctx.container.db, campaignId, [1])).toEqual({ delivered: 0, failed: 1 });
      expect(await ledgerRow(ctx.container.db, campaignId, 1)).toMatchObject({ status: 'failed', error_code: '001' });
    } finally {
      simulator.configure({ receiptStatus: 1 });
    }
  });

  it('reports a message the SMSC refuses (DLR type 16) as REJECTD with the SMPP status as the code', async () => {
    simulator.configure({ failureRate: 1 });
    try {
      const number = msisdn();
      // smsbox accepts it (bearerbox has queued it); the refusal comes as a DLR.
      const id = acceptedId(await submitOne({ ref: 'r', msisdn: number, text: 'refused by the SMSC' }));
      const rows = await waitForStatus(id, 'REJECTD');
      expect(rows.find((r) => r.status === 'REJECTD')).toMatchObject({ error_code: 'ESME_0x0000000B' });
      expect(simulator.submitsFor(number)).toBe(0);
    } finally {
      simulator.configure({ failureRate: 0 });
    }
  });

  it('refuses messages for good when smsbox refuses them, and asks for a retry when the credentials are wrong', async () => {
    // An empty number is refused by smsbox (400 "Empty receiver number not allowed").
    const rejected = await submitOne({ ref: 'bad', msisdn: '', text: 'no number' });
    expect(rejected).toMatchObject({ kind: 'rejected', code: 'KANNEL_HTTP_400' });

    const wrong = new KannelGateway({
      name,
      config: { sendsmsUrl: kannel.sendsmsUrl, username: SENDSMS.username, password: 'not-the-password', from: FROM, dlrUrlBase: base },
      logger: ctx.container.logger,
    });
    try {
      const number = msisdn();
      const outcome = await wrong.submit([{ ref: 'auth', msisdn: number, text: 'x' }]);
      // Not this message's fault: retryable, and the gateway reports the failure so the sender pauses the campaign.
      expect(outcome[0]).toMatchObject({ kind: 'retryable', code: 'KANNEL_AUTH_FAILED' });
      expect(wrong.status()).toMatchObject({ status: 'down', consecutiveFailures: 1 });
      expect(wrong.status().lastError).not.toContain('not-the-password');
    } finally {
      await wrong.close();
    }
  });

  it('survives the SMSC link dropping (Kannel reconnects and sends once) and Kannel itself restarting (retryable while down, nothing sent twice)', async () => {
    const dropped = msisdn();
    simulator.dropConnections();
    // Kannel queues it while its SMPP link is down (202 `0:` or `3: Queued`), then sends it once.
    const id = acceptedId(await submitOne({ ref: 'drop', msisdn: dropped, text: 'after the link dropped' }));
    await waitForStatus(id, 'DELIVRD');
    expect(simulator.submitsFor(dropped)).toBe(1);

    const number = msisdn();
    await kannel.kill();
    try {
      const down = await submitOne({ ref: 'down', msisdn: number, text: 'while Kannel is down' });
      expect(down).toMatchObject({ kind: 'retryable', code: 'NOT_CONNECTED' });
      expect((await gateway()).status()).toMatchObject({ status: 'down' });
    } finally {
      await kannel.start();
    }
    await waitFor(() => simulator.boundSessions, (n) => n > 0, 'Kannel binds again after its restart');
    // The sender sends a retryable message again later: it goes out exactly once.
    const again = acceptedId(await submitOne({ ref: 'down', msisdn: number, text: 'while Kannel is down' }));
    await waitForStatus(again, 'DELIVRD');
    expect(simulator.submitsFor(number)).toBe(1);
    expect((await gateway()).status()).toMatchObject({ status: 'connected', consecutiveFailures: 0 });
  });

  it("stores customers' replies that reach Kannel (sms-service get-url), Chinese included", async () => {
    const number = msisdn();
    await waitFor(() => simulator.boundSessions, (n) => n > 0, 'Kannel is bound');
    expect(simulator.sendMo(number, '退订')).toBe(1);
    expect(simulator.sendMo(number, 'STOP please')).toBe(1);
    const texts = await waitFor(
      async () =>
        (
          await sql<{ text: string; to: string }>`SELECT text, to_addr AS "to" FROM mo_messages WHERE gateway = ${name} AND msisdn = ${number} ORDER BY id`.execute(
            ctx.container.db,
          )
        ).rows,
      (rows) => rows.length === 2,
      'the MO messages are stored',
    );
    expect(texts.map((r) => r.text).sort()).toEqual(['STOP please', '退订'].sort());
    expect(texts[0]!.to).toBe('1069000');
  });

  it('refuses callbacks with a wrong token or for an unknown gateway alike, and ignores a DLR type Kannel does not define', async () => {
    const token = dlrToken(SENDSMS.password, name);
    const wrong = await ctx.app.inject({ method: 'GET', url: `/v1/feedback/kannel?gateway=${name}&token=guess&id=x&type=1` });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ code: 'CALLBACK_REFUSED' });
    const unknown = await ctx.app.inject({ method: 'GET', url: `/v1/feedback/kannel?gateway=no-such-${name}&token=${token}&id=x&type=1` });
    expect(unknown.statusCode).toBe(403);
    expect(unknown.json()).toMatchObject({ code: 'CALLBACK_REFUSED' });
    const mo = await ctx.app.inject({ method: 'GET', url: `/v1/feedback/kannel/mo?gateway=${name}&token=guess&from=13800138000&text=T` });
    expect(mo.statusCode).toBe(403);
    const odd = await ctx.app.inject({ method: 'GET', url: `/v1/feedback/kannel?gateway=${name}&token=${token}&id=odd&type=3` });
    expect(odd.statusCode).toBe(200);
    expect(odd.json()).toEqual({ status: 'ignored' });
  });
});
