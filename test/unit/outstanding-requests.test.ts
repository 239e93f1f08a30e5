import { describe, expect, it, vi } from 'vitest';
import { OutstandingRequests } from '../../src/gateways/session/outstanding-requests.js';

interface Resp {
  sequence: number;
  status: number;
}

describe('OutstandingRequests', () => {
  it('hands each response to the request written under its sequence number, in any order', async () => {
    const outstanding = new OutstandingRequests<Resp>();
    const first = outstanding.response(1, 1_000);
    const second = outstanding.response(2, 1_000);
    expect(outstanding.answer(2, { sequence: 2, status: 0 })).toBe(true);
    expect(outstanding.answer(1, { sequence: 1, status: 8 })).toBe(true);
    expect(await first).toEqual({ sequence: 1, status: 8 });
    expect(await second).toEqual({ sequence: 2, status: 0 });
  });

  it('answers timeout when no response comes in time, and ignores the late one', async () => {
    const outstanding = new OutstandingRequests<Resp>();
    const started = performance.now();
    expect(await outstanding.response(7, 30)).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(outstanding.answer(7, { sequence: 7, status: 0 })).toBe(false);
  });

  it('ignores a response nobody asked for', () => {
    expect(new OutstandingRequests<Resp>().answer(3, { sequence: 3, status: 0 })).toBe(false);
  });

  it('answers lost for every request still waiting when the connection closes, and only for those', async () => {
    const outstanding = new OutstandingRequests<Resp>();
    const answered = outstanding.response(1, 1_000);
    const waiting = [outstanding.response(2, 1_000), outstanding.response(3, 1_000)];
    outstanding.answer(1, { sequence: 1, status: 0 });
    outstanding.loseAll();
    expect(await answered).toEqual({ sequence: 1, status: 0 });
    expect(await Promise.all(waiting)).toEqual(['lost', 'lost']);
    expect(outstanding.answer(2, { sequence: 2, status: 0 })).toBe(false);
  });

  it('clears the timer of a request once it is answered or lost', async () => {
    vi.useFakeTimers();
    try {
      const outstanding = new OutstandingRequests<Resp>();
      const answered = outstanding.response(1, 60_000);
      const lost = outstanding.response(2, 60_000);
      expect(vi.getTimerCount()).toBe(2);
      outstanding.answer(1, { sequence: 1, status: 0 });
      expect(vi.getTimerCount()).toBe(1);
      outstanding.loseAll();
      expect(vi.getTimerCount()).toBe(0);
      expect(await answered).toEqual({ sequence: 1, status: 0 });
      expect(await lost).toBe('lost');
    } finally {
      vi.useRealTimers();
    }
  });
});
