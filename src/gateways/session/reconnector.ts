import type { GatewayStatus } from '../gateway.js';
import { LinkStatus } from './link-status.js';

export interface ReconnectBackoff {
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/**
 * How long to wait before the next attempt after `failures` failed ones in a row: a ceiling
 * doubling from `reconnectMinMs` up to `reconnectMaxMs`, of which half is fixed and half random
 * ("equal jitter"), so that many workers do not reconnect in step.
 */
export function reconnectDelay(failures: number, backoff: ReconnectBackoff, random: () => number = Math.random): number {
  const { reconnectMinMs } = backoff;
  const reconnectMaxMs = Math.max(backoff.reconnectMaxMs, reconnectMinMs);
  const ceiling = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(failures, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * Keeps one connection to a gateway: opens it, opens a new one after a growing, jittered delay
 * when an attempt fails or a working link drops, lets a submit wait a bounded time for the link,
 * and keeps what `Gateway.status()` reports. How to connect, bind and keep the link alive is the
 * adapter's: `open` starts an attempt, and the adapter says `up` or `dropped` on its connection.
 */
export class Reconnector<C> {
  private readonly link = new LinkStatus();
  private current: C | null = null;
  private currentUp = false;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<(connection: C | null) => void>();

  constructor(
    private readonly backoff: ReconnectBackoff,
    private readonly open: () => C,
  ) {}

  /** The first attempt. */
  start(): void {
    this.attempt();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The connection being attempted or up; null from a drop until the next attempt. */
  get connection(): C | null {
    return this.current;
  }

  /** The connection, when it is up. */
  get live(): C | null {
    return this.currentUp ? this.current : null;
  }

  get consecutiveFailures(): number {
    return this.link.consecutiveFailures;
  }

  /** False once `connection` was replaced or the gateway closed: what happens on it no longer counts. */
  isCurrent(connection: C): boolean {
    return !this.closed && connection === this.current;
  }

  /** The attempt on the current connection succeeded: submits waiting for the link get it. */
  up(connection: C): void {
    this.currentUp = true;
    this.link.up();
    this.wake(connection);
  }

  /**
   * `connection` closed, for `reason`. When it was the current one and the gateway is open, the
   * next attempt is scheduled and the answer says what it was: `lost` (it was up; not counted as
   * a failed attempt) or `failed` (it never came up); otherwise null.
   */
  dropped(connection: C, reason: string): 'lost' | 'failed' | null {
    if (connection !== this.current) return null;
    const wasUp = this.currentUp;
    this.current = null;
    this.currentUp = false;
    if (this.closed) return null;
    if (wasUp) this.link.down(`connection lost: ${reason}`);
    else this.link.failed(reason);
    this.reopenTimer = setTimeout(() => this.attempt(), reconnectDelay(this.link.consecutiveFailures, this.backoff));
    return wasUp ? 'lost' : 'failed';
  }

  /** The live connection, waiting up to `waitMs` for one; null when none comes (or the gateway closes). */
  waitForLive(waitMs: number): Promise<C | null> {
    const live = this.live;
    if (live) return Promise.resolve(live);
    if (this.closed || waitMs <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = (connection: C | null): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(connection);
      };
      const timer = setTimeout(() => waiter(null), waitMs);
      this.waiters.add(waiter);
    });
  }

  status(): GatewayStatus {
    const status = this.link.status();
    return this.closed ? { ...status, status: 'down' } : status;
  }

  /** No more attempts; submits waiting for the link get none. The connection is the adapter's to end. */
  close(): void {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.wake(null);
  }

  private attempt(): void {
    if (this.closed) return;
    this.link.connecting();
    this.current = this.open();
    this.currentUp = false;
  }

  private wake(connection: C | null): void {
    for (const waiter of [...this.waiters]) waiter(connection);
  }
}
