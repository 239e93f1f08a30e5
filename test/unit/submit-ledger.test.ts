import { describe, expect, it } from 'vitest';
import { SubmitLedger } from '../../src/gateways/simulator/submit-ledger.js';

const single = (text: string) => () => ({ text, concatenation: null });
const part = (text: string, reference: number, total: number, sequence: number) => () => ({ text, concatenation: { reference, total, sequence } });

describe('submit ledger', () => {
  it('counts every submit, and accepted ones per part', () => {
    const ledger = new SubmitLedger(true);
    ledger.submitted();
    ledger.submitted();
    ledger.submitted();
    ledger.accepted('13900000001', part('Hello ', 7, 2, 1));
    ledger.accepted('13900000001', part('world', 7, 2, 2));
    expect(ledger.totalSubmits).toBe(3);
    expect(ledger.acceptedSubmits).toBe(2);
  });

  it('puts long messages back together whatever the order of their parts, and counts each once', () => {
    const ledger = new SubmitLedger(true);
    ledger.accepted('13900000001', single('short one'));
    ledger.accepted('13900000001', part('c', 9, 3, 3));
    ledger.accepted('13900000001', part('a', 9, 3, 1));
    ledger.accepted('13900000001', part('b', 9, 3, 2));
    expect(ledger.submitsFor('13900000001')).toBe(2);
    expect(ledger.messagesFor('13900000001')).toEqual(['short one', 'abc']);
  });

  it('shows a missing part as …, and a repeated part as a new message (a resubmission)', () => {
    const ledger = new SubmitLedger(true);
    ledger.accepted('13900000002', part('x', 1, 2, 1));
    ledger.accepted('13900000002', part('x', 1, 2, 1));
    ledger.accepted('13900000002', part('y', 1, 2, 2));
    expect(ledger.submitsFor('13900000002')).toBe(2);
    expect(ledger.messagesFor('13900000002')).toEqual(['xy', 'x…']);
  });

  it('keeps numbers apart, and parts of different references apart', () => {
    const ledger = new SubmitLedger(true);
    ledger.accepted('13900000003', part('1', 4, 2, 1));
    ledger.accepted('13900000004', part('2', 4, 2, 2));
    ledger.accepted('13900000003', part('3', 5, 2, 2));
    expect(ledger.messagesFor('13900000003')).toEqual(['1…', '…3']);
    expect(ledger.messagesFor('13900000004')).toEqual(['…2']);
    expect(ledger.submitsFor('13900000005')).toBe(0);
  });

  it('untracked, it counts without reading the content', () => {
    const ledger = new SubmitLedger(false);
    ledger.accepted('13900000001', () => {
      throw new Error('content read');
    });
    expect(ledger.acceptedSubmits).toBe(1);
    expect(ledger.submitsFor('13900000001')).toBe(0);
  });

  it('reset forgets counts and numbers', () => {
    const ledger = new SubmitLedger(true);
    ledger.submitted();
    ledger.accepted('13900000001', single('hi'));
    ledger.reset();
    expect([ledger.totalSubmits, ledger.acceptedSubmits, ledger.submitsFor('13900000001')]).toEqual([0, 0, 0]);
  });
});
