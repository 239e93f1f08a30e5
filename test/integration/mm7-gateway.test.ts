import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayReceipt, OutboundMessage, OutboundMms, SubmitOutcome } from '../../src/gateways/gateway.js';
import { Mm7Gateway, type Mm7GatewayConfigInput } from '../../src/gateways/mm7/mm7.gateway.js';
import { MmscSimulator } from '../../src/gateways/simulator/mmsc.simulator.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'callback-token-0123456789';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

const mms = (text: string): OutboundMms => ({
  subject: '5G 升级',
  parts: [
    { type: 'image', contentType: 'image/png', content: PNG },
    { type: 'text', text },
  ],
});
const numbers = (n: number, from = 13800000000) => Array.from({ length: n }, (_, i) => String(from + i));
const messages = (list: string[], content: (msisdn: string) => OutboundMms = () => mms('同一内容')): OutboundMessage[] =>
  list.map((msisdn, i) => ({ ref: String(i), msisdn, text: '', mms: content(msisdn) }));
const byRef = (outcomes: SubmitOutcome[]) => [...outcomes].sort((a, b) => Number(a.ref) - Number(b.ref));

describe('Mm7Gateway against the MMSC simulator', () => {
  const simulator = new MmscSimulator({ username: 'vasp', password: 'secret', reportDelayMs: -1, seed: 7 });
  let url = '';
  const gateways: Mm7Gateway[] = [];
  const open = (config: Partial<Mm7GatewayConfigInput> = {}) => {
    const gateway = new Mm7Gateway({
      name: 'mms',
      config: { url, vaspId: 'VASP01', vasId: 'VAS01', username: 'vasp', password: 'secret', senderAddress: '10658000', callbackToken: TOKEN, ...config },
      logger,
    });
    gateways.push(gateway);
    return gateway;
  };

  beforeAll(async () => {
    ({ url } = await simulator.start());
  });
  afterEach(async () => {
    simulator.reset();
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });
  afterAll(async () => simulator.stop());

  it('sends the same content to many recipients per SubmitReq, each with its own ledger id', async () => {
    const gateway = open({ recipientsPerRequest: 3 });
    const list = numbers(7);
    const outcomes = byRef(await gateway.submit(messages(list)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(7).fill('accepted'));
    // 7 recipients, 3 per request: 3 requests, as worked by hand.
    expect(simulator.stats).toMatchObject({ requests: 3, recipients: 7, acceptedRecipients: 7 });
    const ids = outcomes.flatMap((o) => (o.kind === 'accepted' ? o.gatewayMessageIds : []));
    expect(new Set(ids).size).toBe(7);
    ids.forEach((id, i) => expect(id).toMatch(new RegExp(`^[0-9A-Z]+/${list[i]}$`)));
    const [received] = simulator.messagesFor(list[0]!);
    expect(received).toMatchObject({ subject: '5G 升级', parts: [{ type: 'image', contentType: 'image/png', content: PNG }, { type: 'text', text: '同一内容' }] });
    expect(gateway.status()).toEqual({ status: 'connected', consecutiveFailures: 0 });
  });

  it('sends personalised content one recipient per request, and a number twice in two requests', async () => {
    const gateway = open({ recipientsPerRequest: 10 });
    const list = [...numbers(3), '13800000000'];
    const outcomes = await gateway.submit(messages(list, (msisdn) => mms(`您好 ${msisdn.slice(-4)}`)));
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true);
    expect(simulator.stats.requests).toBe(4);
    expect(simulator.messagesFor('13800000001')[0]!.parts[1]).toEqual({ type: 'text', text: '您好 0001' });
  });

  it('falls back to one recipient per request when the MMSC answers 3003, and stays there', async () => {
    simulator.configure({ multipleRecipients: false });
    const gateway = open({ recipientsPerRequest: 5 });
    const first = await gateway.submit(messages(numbers(5)));
    expect(first.every((o) => o.kind === 'accepted')).toBe(true);
    // One refused request of 5, then 5 single ones.
    expect(simulator.stats).toMatchObject({ requests: 6, acceptedRecipients: 5 });
    await gateway.submit(messages(numbers(4, 13900000000)));
    expect(simulator.stats).toMatchObject({ requests: 10, acceptedRecipients: 9 });
    for (const n of numbers(5)) expect(simulator.submitsFor(n), n).toBe(1);
  });

  it('rejects the recipients a 1100 partial success names, and accepts the others', async () => {
    simulator.configure({ partialRate: 1 });
    const gateway = open({ recipientsPerRequest: 3 });
    const outcomes = byRef(await gateway.submit(messages(numbers(3))));
    expect(outcomes.map((o) => o.kind)).toEqual(['accepted', 'accepted', 'rejected']);
    expect(outcomes[2]).toMatchObject({ code: 'MM7_1100' });
  });

  it('classifies refusals: 2002 rejected, 3000 retryable and counted as a gateway failure', async () => {
    const gateway = open();
    simulator.configure({ failureRate: 1, failureStatus: 2002 });
    expect(await gateway.submit(messages(numbers(2)))).toEqual([
      expect.objectContaining({ kind: 'rejected', code: 'MM7_2002' }),
      expect.objectContaining({ kind: 'rejected', code: 'MM7_2002' }),
    ]);
    expect(gateway.status().consecutiveFailures).toBe(0);
    simulator.configure({ failureRate: 0, serverErrorRate: 1 });
    expect(await gateway.submit(messages(numbers(1)))).toEqual([expect.objectContaining({ kind: 'retryable', code: 'MM7_3000' })]);
    expect(gateway.status()).toMatchObject({ status: 'down', consecutiveFailures: 1, lastError: 'MM7 3000 Server Error' });
  });

  it('answers retryable on refused credentials, and unknown when the answer never comes', async () => {
    const wrong = open({ password: 'wrong' });
    expect(await wrong.submit(messages(numbers(1)))).toEqual([expect.objectContaining({ kind: 'retryable', code: 'HTTP_401' })]);
    expect(wrong.status().status).toBe('down');
    simulator.configure({ latencyMs: 1_000 });
    const slow = open({ timeoutMs: 200 });
    expect(await slow.submit(messages(numbers(1)))).toEqual([expect.objectContaining({ kind: 'unknown', code: 'RESPONSE_TIMEOUT' })]);
  });

  it('refuses a message without MMS content without calling the MMSC', async () => {
    const gateway = open();
    expect(await gateway.submit([{ ref: 'a', msisdn: '13800000000', text: 'plain SMS' }])).toEqual([expect.objectContaining({ kind: 'rejected', code: 'NOT_MMS' })]);
    expect(simulator.stats.requests).toBe(0);
  });
});

describe('Mm7Gateway when the MMSC restarts', () => {
  it('answers retryable NOT_CONNECTED while it is down and sends again once it is back, nothing twice', async () => {
    const first = new MmscSimulator({ reportDelayMs: -1 });
    const { port } = await first.start();
    const gateway = new Mm7Gateway({
      name: 'mms',
      config: { url: `http://127.0.0.1:${port}/mm7`, vaspId: 'V', vasId: 'S', password: '', senderAddress: '1065', callbackToken: TOKEN, timeoutMs: 2_000 },
      logger,
    });
    try {
      expect((await gateway.submit(messages(['13800000001'])))[0]!.kind).toBe('accepted');
      await first.stop();
      // Down for a moment: long enough for the client to see its idle keep-alive connection closed.
      // A request written onto that connection as the MMSC closed it would be `unknown`, never resent.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await gateway.submit(messages(['13800000002']))).toEqual([expect.objectContaining({ kind: 'retryable', code: 'NOT_CONNECTED' })]);
      expect(gateway.status()).toMatchObject({ status: 'down', consecutiveFailures: 1 });
      const second = new MmscSimulator({ port, reportDelayMs: -1 });
      await second.start();
      try {
        expect((await gateway.submit(messages(['13800000002'])))[0]!.kind).toBe('accepted');
        expect(second.submitsFor('13800000002')).toBe(1);
        expect(second.submitsFor('13800000001')).toBe(0);
        expect(gateway.status()).toMatchObject({ status: 'connected', consecutiveFailures: 0 });
      } finally {
        await second.stop();
      }
    } finally {
      await gateway.close();
    }
  });
});

describe('MM7 delivery reports from the simulator', () => {
  it('posts one DeliveryReportReq per accepted recipient; the adapter emits receipts keyed as its submit answered', async () => {
    const receipts: GatewayReceipt[] = [];
    let gateway: Mm7Gateway | undefined;
    // The callback side as the route does it: credentials, then the report.
    const callbacks = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        if (!gateway?.acceptsCallbackCredentials(request.headers.authorization)) {
          response.writeHead(401).end();
          return;
        }
        const answer = gateway.handleDeliveryReport(request.headers['content-type'], Buffer.concat(chunks));
        response.writeHead(answer.statusCode, { 'Content-Type': answer.contentType }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
    const callbackUrl = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/v1/feedback/mm7?gateway=mms`;
    const simulator = new MmscSimulator({
      callbackUrl,
      callbackAuthorization: `Basic ${Buffer.from(`mmsc:${TOKEN}`).toString('base64')}`,
      reportDelayMs: 20,
      retrievedRate: 0.5,
      failedReportStatus: 'Expired',
      seed: 3,
    });
    const { url } = await simulator.start();
    gateway = new Mm7Gateway({ name: 'mms', config: { url, vaspId: 'V', vasId: 'S', password: '', senderAddress: '1065', callbackToken: TOKEN }, logger });
    gateway.on('receipt', (r) => receipts.push(r));
    try {
      const outcomes = await gateway.submit(messages(numbers(6)));
      const ids = outcomes.flatMap((o) => (o.kind === 'accepted' ? o.gatewayMessageIds : []));
      expect(ids).toHaveLength(6);
      // The receipt is emitted before the simulator reads our answer: wait for both.
      for (let i = 0; i < 100 && (receipts.length < 6 || simulator.stats.reportsAnswered < 6); i++) await new Promise((r) => setTimeout(r, 50));
      expect(receipts.map((r) => r.gatewayMessageId).sort()).toEqual([...ids].sort());
      expect(new Set(receipts.map((r) => r.status))).toEqual(new Set(['DELIVRD', 'EXPIRED']));
      expect(receipts.filter((r) => r.status === 'EXPIRED').every((r) => r.errorCode === 'MM7_Expired')).toBe(true);
      expect(simulator.stats).toMatchObject({ reportsSent: 6, reportsAnswered: 6, reportsFailed: 0 });
    } finally {
      await gateway.close();
      await simulator.stop();
      await new Promise((resolve) => callbacks.close(resolve));
    }
  });
});
