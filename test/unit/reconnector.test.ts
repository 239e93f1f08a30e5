import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LinkStatus } from '../../src/gateways/session/link-status.js';
import { reconnectDelay, Reconnector } from '../../src/gateways/session/reconnector.js';

const BACKOFF = { reconnectMinMs: 100, reconnectMaxMs: 1_000 };

describe('reconnectDelay', () => {
  it('doubles a ceiling from the minimum up to the maximum, half of it fixed and half random', () => {
    // Ceilings for 0, 1, 2, 3, 4 failures: 100, 200, 400, 800, then capped at 1000.
    expect([0, 1, 2, 3, 4, 50].map((failures) => reconnectDelay(failures, BACKOFF, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 50].map((failures) => reconnectDelay(failures, BACKOFF, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(reconnectDelay(2, BACKOFF, () => 0.5)).toBe(300);
  });

  it('takes a maximum below the minimum as the minimum', () => {
    expect(reconnectDelay(3, { reconnectMinMs: 500, reconnectMaxMs: 10 }, () => 1)).toBe(500);
  });
});

describe('LinkStatus', () => {
  it('counts failed attempts in a row, starts again on success and keeps the last error', () => {
    const link = new LinkStatus();
    expect(link.status()).toEqual({ status: 'connecting', consecutiveFailures: 0 });
    expect(link.failed('refused')).toBe(1);
    expect(link.failed('refused again')).toBe(2);
    expect(link.status()).toEqual({ status: 'down', lastError: 'refused again', consecutiveFailures: 2 });
    link.up();
    expect(link.status()).toEqual({ status: 'connected', lastError: 'refused again', consecutiveFailures: 0 });
    link.down('dropped');
    expect(link.status()).toEqual({ status: 'down', lastError: 'dropped', consecutiveFailures: 0 });
    link.connecting();
    expect(link.state).toBe('connecting');
  });
});

describe('Reconnector', () => {
  interface FakeConnection {
    id: number;
  }
  let opened: FakeConnection[];
  let reconnector: Reconnector<FakeConnection>;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(1);
    opened = [];
    reconnector = new Reconnector(BACKOFF, () => {
      const connection = { id: opened.length + 1 };
      opened.push(connection);
      return connection;
    });
  });

  afterEach(() => {
    reconnector.close();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('opens on start and reports connecting, then connected once the adapter says up', () => {
    reconnector.start();
    expect(opened).toHaveLength(1);
    expect(reconnector.status()).toEqual({ status: 'connecting', consecutiveFailures: 0 });
    expect(reconnector.live).toBeNull();
    reconnector.up(opened[0]!);
    expect(reconnector.status()).toEqual({ status: 'connected', consecutiveFailures: 0 });
    expect(reconnector.live).toBe(opened[0]);
  });

  it('counts attempts that never came up and waits longer before each next one', () => {
    reconnector.start();
    expect(reconnector.dropped(opened[0]!, 'bind refused')).toBe('failed');
    expect(reconnector.status()).toEqual({ status: 'down', lastError: 'bind refused', consecutiveFailures: 1 });
    // With Math.random at 1 the delay is the whole ceiling: 200 ms after one failure, 400 after two.
    vi.advanceTimersByTime(199);
    expect(opened).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(2);
    expect(reconnector.status().status).toBe('connecting');
    expect(reconnector.dropped(opened[1]!, 'bind refused')).toBe('failed');
    expect(reconnector.consecutiveFailures).toBe(2);
    vi.advanceTimersByTime(399);
    expect(opened).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(opened).toHaveLength(3);
    reconnector.up(opened[2]!);
    expect(reconnector.status()).toEqual({ status: 'connected', lastError: 'bind refused', consecutiveFailures: 0 });
  });

  it('reports a working link that dropped as lost, without counting it as a failed attempt, and reopens soon', () => {
    reconnector.start();
    reconnector.up(opened[0]!);
    expect(reconnector.dropped(opened[0]!, 'reset by peer')).toBe('lost');
    expect(reconnector.status()).toEqual({ status: 'down', lastError: 'connection lost: reset by peer', consecutiveFailures: 0 });
    expect(reconnector.connection).toBeNull();
    vi.advanceTimersByTime(100);
    expect(opened).toHaveLength(2);
  });

  it('ignores a connection it no longer keeps', () => {
    reconnector.start();
    reconnector.dropped(opened[0]!, 'refused');
    vi.advanceTimersByTime(200);
    expect(reconnector.isCurrent(opened[0]!)).toBe(false);
    expect(reconnector.isCurrent(opened[1]!)).toBe(true);
    expect(reconnector.dropped(opened[0]!, 'late close')).toBeNull();
    expect(reconnector.status()).toEqual({ status: 'connecting', lastError: 'refused', consecutiveFailures: 1 });
  });

  it('lets a submit wait a bounded time for the link: the live connection, or null when none comes', async () => {
    reconnector.start();
    const waiting = reconnector.waitForLive(500);
    vi.advanceTimersByTime(300);
    reconnector.up(opened[0]!);
    expect(await waiting).toBe(opened[0]);
    expect(await reconnector.waitForLive(0)).toBe(opened[0]);

    reconnector.dropped(opened[0]!, 'gone');
    const timedOut = reconnector.waitForLive(50);
    vi.advanceTimersByTime(50);
    expect(await timedOut).toBeNull();
    expect(await reconnector.waitForLive(0)).toBeNull();
  });

  it('on close stops reopening, answers waiting submits null and reports down', async () => {
    reconnector.start();
    const waiting = reconnector.waitForLive(5_000);
    reconnector.dropped(opened[0]!, 'refused');
    reconnector.close();
    expect(await waiting).toBeNull();
    vi.advanceTimersByTime(10_000);
    expect(opened).toHaveLength(1);
    expect(reconnector.isClosed).toBe(true);
    expect(reconnector.status()).toEqual({ status: 'down', lastError: 'refused', consecutiveFailures: 1 });
    expect(await reconnector.waitForLive(1_000)).toBeNull();
  });

  it('keeps the live connection known while closing, so the adapter can unbind it, and does not count its close', () => {
    reconnector.start();
    reconnector.up(opened[0]!);
    reconnector.close();
    expect(reconnector.live).toBe(opened[0]);
    expect(reconnector.isCurrent(opened[0]!)).toBe(false);
    expect(reconnector.dropped(opened[0]!, 'closed by us')).toBeNull();
    expect(reconnector.status()).toEqual({ status: 'down', consecutiveFailures: 0 });
    vi.advanceTimersByTime(10_000);
    expect(opened).toHaveLength(1);
  });
});
