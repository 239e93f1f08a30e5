import { describe, expect, it } from 'vitest';
import type { OutboundMessage } from '../../src/gateways/gateway.js';
import { messageOutcome, submitEach, submitParts, type PartResult } from '../../src/gateways/session/message-outcome.js';

const THROTTLED: PartResult = { kind: 'retryable', code: 'ESME_0x00000058', message: 'throttled' };

/** A submitPart that answers from a script, one answer per call, and records what it was given. */
function scripted(answers: PartResult[]): { submitPart: (part: string) => Promise<PartResult>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    submitPart: async (part) => {
      calls.push(part);
      const answer = answers.shift();
      if (!answer) throw new Error('no answer scripted');
      return answer;
    },
  };
}

describe('messageOutcome', () => {
  it('is accepted with every part id, in order, when nothing failed', () => {
    expect(messageOutcome('m1', 2, ['a', 'b'], null)).toEqual({ kind: 'accepted', ref: 'm1', gatewayMessageIds: ['a', 'b'] });
  });

  it('passes the first part’s failure on as it is: nothing went out', () => {
    expect(messageOutcome('m1', 3, [], THROTTLED)).toEqual({ kind: 'retryable', ref: 'm1', code: 'ESME_0x00000058', message: 'throttled' });
    expect(messageOutcome('m1', 1, [], { kind: 'unknown', code: 'RESPONSE_TIMEOUT', message: 'no answer' })).toEqual({
      kind: 'unknown',
      ref: 'm1',
      code: 'RESPONSE_TIMEOUT',
      message: 'no answer',
    });
  });

  it('never answers retryable once a part is out, and names the parts taken', () => {
    expect(messageOutcome('m1', 3, ['a', 'b'], THROTTLED)).toEqual({
      kind: 'rejected',
      ref: 'm1',
      code: 'ESME_0x00000058',
      message: 'throttled; parts 1-2 of 3 were accepted as a,b',
    });
    expect(messageOutcome('m1', 2, ['a'], { kind: 'unknown', code: 'CONNECTION_LOST', message: 'lost' })).toEqual({
      kind: 'unknown',
      ref: 'm1',
      code: 'CONNECTION_LOST',
      message: 'lost; parts 1-1 of 2 were accepted as a',
    });
    expect(messageOutcome('m1', 2, ['a'], { kind: 'rejected', code: 'X', message: 'barred' })).toMatchObject({ kind: 'rejected', message: 'barred; parts 1-1 of 2 were accepted as a' });
  });
});

describe('submitParts', () => {
  it('submits the parts in order and collects their ids', async () => {
    const { submitPart, calls } = scripted([
      { kind: 'accepted', id: '1' },
      { kind: 'accepted', id: '2' },
    ]);
    expect(await submitParts('m1', ['p1', 'p2'], submitPart, 0)).toEqual({ kind: 'accepted', ref: 'm1', gatewayMessageIds: ['1', '2'] });
    expect(calls).toEqual(['p1', 'p2']);
  });

  it('does not retry a first part: the whole message can be submitted again later', async () => {
    const { submitPart, calls } = scripted([THROTTLED]);
    expect(await submitParts('m1', ['p1', 'p2'], submitPart, 0)).toMatchObject({ kind: 'retryable' });
    expect(calls).toEqual(['p1']);
  });

  it('retries a retryable later part in place, three attempts in all, at least 50 ms apart', async () => {
    const { submitPart, calls } = scripted([{ kind: 'accepted', id: '1' }, THROTTLED, THROTTLED, { kind: 'accepted', id: '2' }]);
    const started = performance.now();
    expect(await submitParts('m1', ['p1', 'p2'], submitPart, 0)).toEqual({ kind: 'accepted', ref: 'm1', gatewayMessageIds: ['1', '2'] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * 50 - 5);
    expect(calls).toEqual(['p1', 'p2', 'p2', 'p2']);
  });

  it('gives a later part up after three retryable answers, as rejected naming the part taken', async () => {
    const { submitPart, calls } = scripted([{ kind: 'accepted', id: '1' }, THROTTLED, THROTTLED, THROTTLED]);
    expect(await submitParts('m1', ['p1', 'p2', 'p3'], submitPart, 0)).toEqual({
      kind: 'rejected',
      ref: 'm1',
      code: 'ESME_0x00000058',
      message: 'throttled; parts 1-1 of 3 were accepted as 1',
    });
    expect(calls).toEqual(['p1', 'p2', 'p2', 'p2']);
  });

  it('does not retry a later part answered unknown', async () => {
    const { submitPart, calls } = scripted([{ kind: 'accepted', id: '1' }, { kind: 'unknown', code: 'RESPONSE_TIMEOUT', message: 'no answer' }]);
    expect(await submitParts('m1', ['p1', 'p2'], submitPart, 0)).toMatchObject({ kind: 'unknown', code: 'RESPONSE_TIMEOUT' });
    expect(calls).toEqual(['p1', 'p2']);
  });
});

describe('submitEach', () => {
  it('answers one outcome per message; a submit that throws is unknown and reported', async () => {
    const batch: OutboundMessage[] = [
      { ref: 'ok', msisdn: '13800138000', text: 'hi' },
      { ref: 'boom', msisdn: '13800138001', text: 'hi' },
    ];
    const reported: string[] = [];
    const outcomes = await submitEach(
      batch,
      async (message) => {
        if (message.ref === 'boom') throw new Error('bug');
        return { kind: 'accepted', ref: message.ref, gatewayMessageIds: ['x'] };
      },
      (error, message) => reported.push(`${message.ref}: ${(error as Error).message}`),
    );
    expect(outcomes).toEqual([
      { kind: 'accepted', ref: 'ok', gatewayMessageIds: ['x'] },
      { kind: 'unknown', ref: 'boom', code: 'INTERNAL_ERROR', message: 'the submit failed unexpectedly' },
    ]);
    expect(reported).toEqual(['boom: bug']);
  });
});
