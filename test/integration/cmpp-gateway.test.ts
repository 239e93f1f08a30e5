import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CmppGateway, type CmppGatewayConfigInput } from '../../src/gateways/cmpp/cmpp.gateway.js';
import type { GatewayReceipt, MoMessage, OutboundMessage, SubmitOutcome } from '../../src/gateways/gateway.js';
import { IsmgSimulator, type IsmgSimulatorOptions } from '../../src/gateways/simulator/ismg.simulator.js';

const SECRET = 'cmpp-secret-8421';
const SP_ID = '901234';
const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startSimulator(options: IsmgSimulatorOptions = {}): Promise<{ simulator: IsmgSimulator; port: number }> {
  const simulator = new IsmgSimulator({ seed: 7, receiptDelayMs: 10, ...options });
  const { port } = await simulator.start();
  cleanups.push(() => simulator.stop());
  return { simulator, port };
}

function openGateway(port: number, version: 2 | 3, config: Partial<CmppGatewayConfigInput> = {}, logger = silent): CmppGateway {
  const gateway = new CmppGateway({
    name: 'ismg',
    config: {
      host: '127.0.0.1',
      port,
      sourceAddr: SP_ID,
      sharedSecret: SECRET,
      srcId: '1069000',
      serviceId: 'MKT',
      version,
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

describe.each([2, 3] as const)('CmppGateway %i.0 against the ISMG simulator', (version) => {
  it('submits a batch of 200 with long Chinese messages, one Msg_Id per part, and matches every report', async () => {
    const { simulator, port } = await startSimulator({ sourceAddr: SP_ID, sharedSecret: SECRET });
    const gateway = openGateway(port, version, { verifyIsmgAuthenticator: true });
    const receipts: GatewayReceipt[] = [];
    gateway.on('receipt', (receipt) => receipts.push(receipt));

    // Parts worked by hand: ASCII (1), short Chinese (1), 200 ASCII characters (153 + 47: 2),
    // 150 Chinese characters (67 + 67 + 16: 3).
    const kinds = [
      { text: (n: number) => `Hi ${n}, your bill is ready`, parts: 1 },
      { text: (n: number) => `尊敬的客户${n}，您好`, parts: 1 },
      { text: (n: number) => `${'x'.repeat(196)}${String(n).padStart(4, '0')}`, parts: 2 },
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
      expect(simulator.messagesFor(sent.msisdn)).toEqual([sent.text]);
    }
    expect(submitIds).toHaveLength(350);
    expect(new Set(submitIds).size).toBe(350);
    expect(submitIds.every((id) => /^[0-9a-f]{1,16}$/.test(id))).toBe(true);

    await waitFor(() => receipts.length >= 350);
    expect(new Set(receipts.map((receipt) => receipt.gatewayMessageId))).toEqual(new Set(submitIds));
    expect(receipts.every((receipt) => receipt.status === 'DELIVRD' && receipt.errorCode === null && receipt.gateway === 'ismg')).toBe(true);
    // Every report was acknowledged with a DELIVER_RESP.
    await waitFor(() => simulator.deliverResponses >= 350);
    expect(gateway.status()).toEqual({ status: 'connected', consecutiveFailures: 0 });
  });

  it('reports an operator failure code as UNDELIV with the code', async () => {
    const { port } = await startSimulator({ receiptStatus: 0, failedStat: 'MK:0005' });
    const gateway = openGateway(port, version);
    const receipts: GatewayReceipt[] = [];
    gateway.on('receipt', (receipt) => receipts.push(receipt));
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome?.kind).toBe('accepted');
    await waitFor(() => receipts.length === 1);
    expect(receipts[0]).toMatchObject({
      gatewayMessageId: outcome?.kind === 'accepted' ? outcome.gatewayMessageIds[0] : '',
      status: 'UNDELIV',
      errorCode: 'MK:0005',
    });
    expect(receipts[0]?.doneAt).toBeInstanceOf(Date);
  });

  it('emits MO messages decoded, ASCII and UCS-2, a long one put back together from its parts', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version);
    const replies: MoMessage[] = [];
    gateway.on('mo', (mo) => replies.push(mo));
    await waitFor(() => simulator.connectedSessions === 1);

    const long = `请帮我办理${'五'.repeat(140)}`;
    simulator.sendMo(msisdn(1), '退订');
    simulator.sendMo(msisdn(2), 'TD', '10690001234');
    simulator.sendMo(msisdn(3), long);
    await waitFor(() => replies.length === 3);
    expect(replies.map(({ msisdn: from, to, text }) => ({ from, to, text }))).toEqual([
      { from: msisdn(1), to: '1069000', text: '退订' },
      { from: msisdn(2), to: '10690001234', text: 'TD' },
      { from: msisdn(3), to: '1069000', text: long },
    ]);
    await waitFor(() => simulator.deliverResponses === 5);
  });

  it('answers retryable under flow control (Result 8), and the same messages go through on retry', async () => {
    const { simulator, port } = await startSimulator({ flowControlRate: 1 });
    const gateway = openGateway(port, version);
    const batch = [message(1), message(2, '中文消息')];

    const throttled = await gateway.submit(batch);
    expect(throttled.map((outcome) => [outcome.kind, 'code' in outcome ? outcome.code : null])).toEqual([
      ['retryable', 'CMPP_RESULT_8'],
      ['retryable', 'CMPP_RESULT_8'],
    ]);
    expect(simulator.submitsFor(msisdn(1))).toBe(0);

    simulator.configure({ flowControlRate: 0 });
    const retried = await gateway.submit(batch);
    expect(retried.map((outcome) => outcome.kind)).toEqual(['accepted', 'accepted']);
    expect(simulator.submitsFor(msisdn(1))).toBe(1);
    expect(simulator.submitsFor(msisdn(2))).toBe(1);
  });

  it('answers rejected with a stable code for a final Result, and names the parts already taken', async () => {
    const { simulator, port } = await startSimulator({ failureRate: 1, failureResult: 3 });
    const gateway = openGateway(port, version);
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'rejected', ref: 'ref-1', code: 'CMPP_RESULT_3' });
    expect(simulator.submitsFor(msisdn(1))).toBe(0);

    simulator.configure({ failureRate: 0, latencyMs: 100 });
    const pending = gateway.submit([message(2, '分'.repeat(100))]);
    await waitFor(() => simulator.totalSubmits === 2);
    simulator.configure({ failureRate: 1, failureResult: 13 });
    const [partly] = await pending;
    expect(partly).toMatchObject({ kind: 'rejected', code: 'CMPP_RESULT_13' });
    expect(partly?.kind === 'rejected' && partly.message).toMatch(/parts 1-1 of 2 were accepted as [0-9a-f]+$/);
  });

  it('reconnects after the connections drop, and sends each number once', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version);
    const first = await gateway.submit(Array.from({ length: 20 }, (_, n) => message(n)));
    expect(first.every((outcome) => outcome.kind === 'accepted')).toBe(true);

    simulator.dropConnections();
    await waitFor(() => gateway.status().status !== 'connected');
    const second = await gateway.submit(Array.from({ length: 20 }, (_, n) => message(n + 20, `第二批 ${n}`)));
    expect(second.every((outcome) => outcome.kind === 'accepted')).toBe(true);
    expect(gateway.status()).toMatchObject({ status: 'connected', consecutiveFailures: 0 });
    for (let n = 0; n < 40; n += 1) expect(simulator.submitsFor(msisdn(n))).toBe(1);
  });

  it('survives the ISMG restarting on the same port: reconnects, and nothing is sent twice', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version);
    const first = await gateway.submit(Array.from({ length: 10 }, (_, n) => message(n)));
    expect(first.every((outcome) => outcome.kind === 'accepted')).toBe(true);

    await simulator.stop();
    await waitFor(() => gateway.status().status !== 'connected');
    const { simulator: restarted } = await startSimulator({ port });
    const second = await gateway.submit(Array.from({ length: 10 }, (_, n) => message(n + 10)));
    expect(second.every((outcome) => outcome.kind === 'accepted')).toBe(true);
    for (let n = 0; n < 10; n += 1) expect(restarted.submitsFor(msisdn(n))).toBe(0);
    for (let n = 10; n < 20; n += 1) expect(restarted.submitsFor(msisdn(n))).toBe(1);
    expect(simulator.totalSubmits + restarted.totalSubmits).toBe(20);
  });

  it('reconnects after the ISMG terminates the connection', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version);
    await waitFor(() => simulator.connectedSessions === 1);
    simulator.terminateConnections();
    await waitFor(() => gateway.status().lastError?.includes('terminated') === true);
    await waitFor(() => gateway.status().status === 'connected' && simulator.connectedSessions === 1);
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome?.kind).toBe('accepted');
  });

  it('answers unknown for submits outstanding when the connection is lost', async () => {
    const { simulator, port } = await startSimulator({ latencyMs: 400 });
    const gateway = openGateway(port, version);
    const pending = gateway.submit([message(1), message(2)]);
    await waitFor(() => simulator.totalSubmits === 2);
    simulator.dropConnections();
    const outcomes = await pending;
    expect(outcomes.map((outcome) => [outcome.kind, 'code' in outcome ? outcome.code : null])).toEqual([
      ['unknown', 'CONNECTION_LOST'],
      ['unknown', 'CONNECTION_LOST'],
    ]);
    // The ISMG did take them: exactly why an unknown outcome is never resubmitted blindly.
    expect(simulator.submitsFor(msisdn(1))).toBe(1);
  });

  it('answers unknown when the SUBMIT_RESP comes later than the response timeout', async () => {
    const { port } = await startSimulator({ latencyMs: 300 });
    const gateway = openGateway(port, version, { responseTimeoutMs: 100 });
    await waitFor(() => gateway.status().status === 'connected');
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'unknown', ref: 'ref-1', code: 'RESPONSE_TIMEOUT' });
  });

  it('keeps at most maxOutstanding submits unanswered', async () => {
    const { port } = await startSimulator({ latencyMs: 60 });
    const gateway = openGateway(port, version, { maxOutstanding: 2 });
    await waitFor(() => gateway.status().status === 'connected');
    const startedAt = Date.now();
    const outcomes = await gateway.submit(Array.from({ length: 10 }, (_, n) => message(n)));
    expect(outcomes.every((outcome) => outcome.kind === 'accepted')).toBe(true);
    // Ten answers of 60 ms, two at a time: five rounds at least.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(5 * 60 - 5);
  });

  it('goes down while connects are refused (Status 3) and comes back connected', async () => {
    const { simulator, port } = await startSimulator({ refuseConnectsUntil: Date.now() + 1_000 });
    const gateway = openGateway(port, version);
    await waitFor(() => gateway.status().consecutiveFailures >= 2);
    const failing = gateway.status();
    expect(['down', 'connecting']).toContain(failing.status);
    expect(failing.lastError).toBe('connect refused: status 3 (authentication error)');

    await waitFor(() => gateway.status().status === 'connected', 3_000);
    expect(gateway.status().consecutiveFailures).toBe(0);
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome?.kind).toBe('accepted');
    expect(simulator.connectedSessions).toBe(1);
  });

  it('sends ACTIVE_TEST when idle', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version, { activeTestSeconds: 0.05 });
    await waitFor(() => simulator.activeTests >= 2);
    expect(gateway.status().status).toBe('connected');
  });

  it('answers retryable NOT_CONNECTED after a bounded wait when no ISMG answers', async () => {
    const { simulator, port } = await startSimulator();
    await simulator.stop();
    const gateway = openGateway(port, version, { connectWaitMs: 200 });
    const startedAt = Date.now();
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'retryable', code: 'NOT_CONNECTED' });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect(gateway.status().lastError).toMatch(/ECONNREFUSED/);
  });

  it('terminates on close', async () => {
    const { simulator, port } = await startSimulator();
    const gateway = openGateway(port, version);
    await waitFor(() => simulator.connectedSessions === 1);
    await gateway.close();
    await waitFor(() => simulator.connectedSessions === 0);
    expect(gateway.status().status).toBe('down');
    const [outcome] = await gateway.submit([message(1)]);
    expect(outcome).toMatchObject({ kind: 'retryable', code: 'NOT_CONNECTED' });
  });
});

describe('CmppGateway credentials', () => {
  it('never shows or logs the shared secret, even when the ISMG refuses it', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ level: 'trace' }, sink);
    const { simulator, port } = await startSimulator({ sourceAddr: SP_ID, sharedSecret: 'the-right-one' });
    const gateway = openGateway(port, 3, {}, logger);
    await waitFor(() => gateway.status().consecutiveFailures >= 2);
    expect(gateway.status().lastError).toBe('connect refused: status 3 (authentication error)');

    simulator.configure({ sharedSecret: SECRET });
    await waitFor(() => gateway.status().status === 'connected', 3_000);
    await gateway.submit([message(1)]);
    await gateway.close();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(JSON.stringify(gateway.status())).not.toContain(SECRET);
  });

  it('refuses an ISMG that cannot prove the secret when asked to check', async () => {
    const { port } = await startSimulator();
    const gateway = openGateway(port, 2, { verifyIsmgAuthenticator: true });
    await waitFor(() => gateway.status().consecutiveFailures >= 1);
    expect(gateway.status().lastError).toContain('AuthenticatorISMG mismatch');
  });

  it('gets Status 4 from an ISMG that speaks only 2.0 when asking for 3.0', async () => {
    const { port } = await startSimulator({ maxVersion: 2 });
    const gateway = openGateway(port, 3);
    await waitFor(() => gateway.status().consecutiveFailures >= 1);
    expect(gateway.status().lastError).toBe('connect refused: status 4 (version too high)');
  });
});
