import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { GatewayReceipt, MoMessage } from '../../src/gateways/gateway.js';
import { GatewayListeners } from '../../src/gateways/session/gateway-listeners.js';

function recordingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

const mo: MoMessage = { gateway: 'g', msisdn: '13800138000', to: '106900', text: 'TD', receivedAt: new Date('2026-12-01T00:00:00Z') };
const receipt: GatewayReceipt = { gateway: 'g', gatewayMessageId: '1', status: 'DELIVRD', errorCode: null, doneAt: null, receivedAt: new Date('2026-12-01T00:00:00Z') };

describe('GatewayListeners', () => {
  it('hands each event to its own listeners, in the order they were added', () => {
    const { logger } = recordingLogger();
    const listeners = new GatewayListeners(logger, 'test listener failed');
    const heard: string[] = [];
    listeners.on('mo', (message) => heard.push(`mo1 ${message.text}`));
    listeners.on('receipt', (r) => heard.push(`receipt ${r.status}`));
    listeners.on('mo', (message) => heard.push(`mo2 ${message.text}`));
    listeners.emit('mo', mo);
    listeners.emit('receipt', receipt);
    expect(heard).toEqual(['mo1 TD', 'mo2 TD', 'receipt DELIVRD']);
  });

  it('logs a listener that throws and still tells the others', () => {
    const { logger, lines } = recordingLogger();
    const listeners = new GatewayListeners(logger, 'test listener failed');
    const heard: string[] = [];
    listeners.on('mo', () => {
      throw new Error('listener bug');
    });
    listeners.on('mo', (message) => heard.push(message.text));
    expect(() => listeners.emit('mo', mo)).not.toThrow();
    expect(heard).toEqual(['TD']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'test listener failed', event: 'mo', err: { message: 'listener bug' } });
  });
});
