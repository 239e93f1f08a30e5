import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayReceipt, MoMessage, OutboundMessage, SubmitOutcome } from '../../src/gateways/gateway.js';
import { SmscSimulator, type SmscSimulatorOptions } from '../../src/gateways/simulator/smsc.simulator.js';
import { SmppGateway, type SmppGatewayConfigInput } from '../../src/gateways/smpp/smpp.gateway.js';

const PASSWORD = 'pw-8421';
const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startSimulator(options: SmscSimulatorOptions = {}): Promise<{ simulator: SmscSimulator; port: number }> {
  const simulator = new SmscSimulator({ seed: 7, receiptDelayMs: 10, ...options });
  const { port } = await simulator.start();
  cleanups.push(() => simulator.stop());
  return { simulator, port };
}

function openGateway(port: number, config: Partial<SmppGatewayConfigInput> = {}): SmppGateway {
  const gateway = new SmppGateway({
    name: 'sim',
    config: {
      host: '127.0.0.1',
      port,
      systemId: 'quanke',
      password: PASSWORD,
      sourceAddr: '1069000',
      responseTimeoutMs: 1_000,
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      connectWaitMs: 2_000,
      throttlePauseMs: 100,
      ...config,
    },
    logger,
  });
  cleanups.push(() => gateway.close());
  return gateway;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function msisdn(n: number): string {
  return `1390000${String(n).padStart(4, '0')}`;
}

function message(n: number, text = `Quanke test ${n}`): OutboundMessage {
  return { ref: `ref-${n}`, msisdn: msisdn(n), text };
}

function byRef(outcomes: SubmitOutcome[]): Map<string, SubmitOutcome> {
  return new Map(outcomes.map((outcome) => [outcome.ref, outcome]));
}

describe('SmppGateway against the SMSC simulator', () => {
  it('submits a mixed batch of 200, one id per part, and matches every receipt to its submit id', async () => {
    const { simulator, port } = await startSimulator({ systemId: 'quanke', password: PASSWORD });
    const gateway = openGateway(port);
    const receipts: GatewayReceipt[] = [];
    gateway.on('receipt', (receipt) => receipts.push(receipt));

    // Four kinds, parts worked by hand: a short GSM text (1), a short Chinese text (1),
    // 200 GSM septets (153 + 47: 2), 150 Chinese characters (67 + 67 + 16: 3).
    const kinds = [
      { text: (n: number) => `Hi ${n}, your bill is ready`, parts: 1 },
      { text: (n: number) => `尊敬的客户${n}，您好`, parts: 1 },
      { text: (n: number) => `${'x'.repeat(194)} ${String(n).padStart(3, '0')} €`, parts: 2 },
      { text: (n: number) => `${'流量'.repeat(73)}${String(n).padStart(4, '0')}`, parts: 3 },
    ];
    const batch = Array.from({ length: 200 }, (_, n) => message(n, kinds[n % 4]!.text(n)));
    const outcomes = byRef(await gateway.submit(batch));

    expect(outcomes.size).toBe(200);
    const submitIds: string[] = [];
    for (const [n, sent] of batch.entries()) {
      const outcome = outcomes.get(sent.ref);
      expect(outcome?.kind).toBe('accepted');
      if (outcome?.kind !== 'accepted') continue;
      expect(outcome.gatewayMessageIds).toHaveLength(kinds[n % 4]!.parts);
      submitIds.push(...outcome.gatewayMessageIds);
      // What the SMSC put back together is what we meant to send.
      expect(simulator.messagesFor(sent.msisdn)).toEqual([sent.text]);
    }
    expect(submitIds).toHaveLength(350);
    expect(new Set(submitIds).size).toBe(350);

    await waitFor(() => receipts.length >= 350);
    expect(new Set(receipts.map((receipt) => receipt.gatewayMessageId))).toEqual(new Set(submitIds));
    expect(receipts.every((receipt) => receipt.status === 'DELIVRD' && receipt.gateway === 'sim')).toBe(true);
    expect(gateway.status()).toEqual({ status: 'connected', consecutiveFailures: 0 });
  });

  it('matches receipts whose text id is decimal to hex submit ids, and reports UNDELIV', async () => {
    const { port } = await startSimulator({ firstMessageId: 4_278_233_874, receiptStatus: 0 });
    const gateway = openGateway(port);
    const receipts: GatewayReceipt[] = [];
    gateway.on('receipt', (receipt) => receipts.push(receipt));
    const [outcome] = await gateway.submit([message(1)]);
    // 4278233874 = 0xFF00AB12, answered by the simulator as 00000000FF00AB12.
    expect(outcome).toEqual({ kind: 'accepted', ref: 'ref-1', gatewayMessageIds: ['ff00ab12'] });
    await waitFor(() => receipts.length === 1);
    expect(receipts[0]).toMatchObject({ gatewayMessageId: 'ff00ab12', status: 'UNDELIV', errorCode: '001' });
  });

  it('emits MO messages decoded, GSM and UCS-2, short and long', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port);
    const replies: MoMessage[] = [];
    gateway.on('mo', (mo) => replies.push(mo));
    await waitFor(() => simulator.boundSessions === 1);

    const long = `请帮我办理${'五'.repeat(80)}`;
    simulator.sendMo(msisdn(1), '退订');
    simulator.sendMo(msisdn(2), 'STOP {now} €5', '10690001234');
    simulator.sendMo(msisdn(3), long);
    await waitFor(() => replies.length === 3);
    expect(replies.map(({ msisdn: from, to, text }) => ({ from, to, text }))).toEqual([
      { from: msisdn(1), to: '1069000', text: '退订' },
      { from: msisdn(2), to: '10690001234', text: 'STOP {now} €5' },
      { from: msisdn(3), to: '1069000', text: long },
    ]);
  });

  it('answers retryable while the SMSC throttles, and the same messages go through on retry', async () => {
    const { simulator, port } = await startSimulator({ throttleRate: 1 });
    const gateway = openGateway(port);
    const batch = [message(1), message(2, '中文消息')];

    const throttled = await gateway.submit(batch);
    expect(throttled.map((outcome) => [outcome.kind, 'code' in outcome ? outcome.code : null])).toEqual([
      ['retryable', 'ESME_0x00000058'],
      ['retryable', 'ESME_0x00000058'],
    ]);
    expect(simulator.submitsFor(msisdn(1))).toBe(0);

    simulator.configure({ throttleRate: 0 });
    const retried = await gateway.submit(batch);
    expect(retried.map((outcome) => outcome.kind)).toEqual(['accepted', 'accepted']);
    expect(simulator.submitsFor(msisdn(1))).toBe(1);
    expect(simulator.submitsFor(msisdn(2))).toBe(1);
  });

  it('answers retryable over the SMSC throughput cap', async () => {
    const { port } = await startSimulator({ maxPerSecond: 5 });
    const gateway = openGateway(port, { throttlePauseMs: 0 });
    const outcomes = await gateway.submit(Array.from({ length: 10 }, (_, n) => message(n)));
    const kinds = outcomes.map((outcome) => outcome.kind).sort();
    // Ten at once against a cap of five per second; a second boundary in between may let a few more through.
    expect(kinds.filter((kind) => kind === 'accepted').length).toBeGreaterThanOrEqual(5);
    expect(kinds.filter((kind) => kind === 'retryable').length).toBeGreaterThan(0);
  });

  it('answers rejected with the SMSC status code for a permanent failure', async () => {
    const { simulator, port } = await startSimulator({ failureRate: 1 });
    const gateway = openGateway(port);
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'rejected', ref: 'ref-1', code: 'ESME_0x0000000B' });
    expect(outcome?.kind === 'rejected' && outcome.message).toContain('ESME_RINVDSTADR');
    expect(simulator.submitsFor(msisdn(1))).toBe(0);
  });

  it('answers rejected, naming the parts already taken, when a later part is refused', async () => {
    const { simulator, port } = await startSimulator({ latencyMs: 100 });
    const gateway = openGateway(port);
    await waitFor(() => gateway.status().status === 'connected');
    const pending = gateway.submit([message(1, '分'.repeat(100))]);
    // Part 1 is in; part 2 goes out only once part 1 is answered, by then refused.
    await waitFor(() => simulator.totalSubmits === 1);
    simulator.configure({ failureRate: 1 });
    const [outcome] = await pending;
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'ESME_0x0000000B' });
    expect(outcome?.kind === 'rejected' && outcome.message).toMatch(/parts 1-1 of 2 were accepted as [0-9a-f]+$/);
  });

  it('retries a throttled later part in place, so the message is still whole', async () => {
    const { simulator, port } = await startSimulator({ latencyMs: 100 });
    const gateway = openGateway(port);
    await waitFor(() => gateway.status().status === 'connected');
    const text = '续'.repeat(100);
    const pending = gateway.submit([message(1, text)]);
    await waitFor(() => simulator.totalSubmits === 1);
    simulator.configure({ throttleRate: 1 });
    await waitFor(() => simulator.totalSubmits === 2);
    simulator.configure({ throttleRate: 0 });
    const [outcome] = await pending;
    expect(outcome?.kind === 'accepted' && outcome.gatewayMessageIds).toHaveLength(2);
    expect(simulator.totalSubmits).toBe(3);
    expect(simulator.messagesFor(msisdn(1))).toEqual([text]);
  });

  it('refuses texts beyond the part limit and empty texts without sending them', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port);
    const outcomes = await gateway.submit([message(1, '长'.repeat(67 * 10 + 1)), message(2, '')]);
    expect(outcomes.map((outcome) => ('code' in outcome ? [outcome.kind, outcome.code] : outcome.kind))).toEqual([
      ['rejected', 'TOO_MANY_PARTS'],
      ['rejected', 'EMPTY_TEXT'],
    ]);
    expect(simulator.totalSubmits).toBe(0);
  });

  it('reconnects after the connections drop, and sends each number once', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port);
    const first = await gateway.submit(Array.from({ length: 20 }, (_, n) => message(n)));
    expect(first.every((outcome) => outcome.kind === 'accepted')).toBe(true);

    simulator.dropConnections();
    await waitFor(() => gateway.status().status !== 'connected');
    const second = await gateway.submit(Array.from({ length: 20 }, (_, n) => message(n + 20, `第二批 ${n}`)));
    expect(second.every((outcome) => outcome.kind === 'accepted')).toBe(true);
    expect(gateway.status()).toMatchObject({ status: 'connected', consecutiveFailures: 0 });
    for (let n = 0; n < 40; n += 1) expect(simulator.submitsFor(msisdn(n))).toBe(1);
  });

  it('answers unknown for submits outstanding when the connection is lost', async () => {
    const { simulator, port } = await startSimulator({ latencyMs: 400 });
    const gateway = openGateway(port);
    const pending = gateway.submit([message(1), message(2)]);
    await waitFor(() => simulator.totalSubmits === 2);
    simulator.dropConnections();
    const outcomes = await pending;
    expect(outcomes.map((outcome) => ('code' in outcome ? outcome.code : outcome.kind))).toEqual(['CONNECTION_LOST', 'CONNECTION_LOST']);
    expect(outcomes.every((outcome) => outcome.kind === 'unknown')).toBe(true);
    // The SMSC did take them: exactly why an unknown outcome is never resubmitted blindly.
    expect(simulator.submitsFor(msisdn(1))).toBe(1);
  });

  it('answers unknown when the submit_sm_resp comes later than the response timeout', async () => {
    const { port } = await startSimulator({ latencyMs: 300 });
    const gateway = openGateway(port, { responseTimeoutMs: 100 });
    await waitFor(() => gateway.status().status === 'connected');
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'unknown', ref: 'ref-1', code: 'RESPONSE_TIMEOUT' });
  });

  it('keeps at most maxOutstanding submits unanswered', async () => {
    const { port } = await startSimulator({ latencyMs: 60 });
    const gateway = openGateway(port, { maxOutstanding: 2 });
    await waitFor(() => gateway.status().status === 'connected');
    const startedAt = Date.now();
    const outcomes = await gateway.submit(Array.from({ length: 10 }, (_, n) => message(n)));
    expect(outcomes.every((outcome) => outcome.kind === 'accepted')).toBe(true);
    // Ten answers of 60 ms, two at a time: five rounds at least.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(5 * 60 - 5);
  });

  it('goes down while binds are refused and comes back connected', async () => {
    const { simulator, port } = await startSimulator({ refuseBindsUntil: Date.now() + 1_000 });
    const gateway = openGateway(port);
    await waitFor(() => gateway.status().consecutiveFailures >= 2);
    const failing = gateway.status();
    expect(['down', 'connecting']).toContain(failing.status);
    expect(failing.lastError).toContain('ESME_RBINDFAIL');
    expect(failing.lastError).not.toContain(PASSWORD);

    await waitFor(() => gateway.status().status === 'connected', 3_000);
    expect(gateway.status().consecutiveFailures).toBe(0);
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome?.kind).toBe('accepted');
    expect(simulator.boundSessions).toBe(1);
  });

  it('never shows the password, even when the SMSC refuses it', async () => {
    const { port } = await startSimulator({ systemId: 'quanke', password: 'other' });
    const gateway = openGateway(port);
    await waitFor(() => gateway.status().consecutiveFailures >= 1);
    expect(gateway.status().lastError).toContain('ESME_RINVPASWD');
    expect(JSON.stringify(gateway.status())).not.toContain(PASSWORD);
  });

  it('answers retryable NOT_CONNECTED after a bounded wait when no SMSC answers', async () => {
    const { simulator, port } = await startSimulator();
    await simulator.stop();
    const gateway = openGateway(port, { connectWaitMs: 200 });
    const startedAt = Date.now();
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'retryable', code: 'NOT_CONNECTED' });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(gateway.status().status).not.toBe('connected');
    expect(gateway.status().lastError).toMatch(/ECONNREFUSED/);
  });

  it('unbinds on close', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port);
    await waitFor(() => simulator.boundSessions === 1);
    await gateway.close();
    expect(simulator.boundSessions).toBe(0);
    expect(gateway.status().status).toBe('down');
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'retryable', code: 'NOT_CONNECTED' });
  });
});
