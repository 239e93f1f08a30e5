import type { GatewayStatus } from '../gateway.js';

export type LinkState = GatewayStatus['status'];

/**
 * How a gateway's link is doing, as `Gateway.status()` reports it: its state, the last failure
 * in words, and how many attempts in a row failed. A success starts the count again but keeps
 * the last error for whoever looks later.
 */
export class LinkStatus {
  private current: LinkState = 'connecting';
  private lastError: string | undefined;
  private failures = 0;

  get state(): LinkState {
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** A new attempt is under way. */
  connecting(): void {
    this.current = 'connecting';
  }

  /** The link works. */
  up(): void {
    this.current = 'connected';
    this.failures = 0;
  }

  /** An attempt failed: one more failure in a row. Returns how many that makes. */
  failed(reason: string): number {
    this.current = 'down';
    this.lastError = reason;
    this.failures += 1;
    return this.failures;
  }

  /** The link went down without an attempt failing (a working connection dropped). */
  down(reason: string): void {
    this.current = 'down';
    this.lastError = reason;
  }

  status(): GatewayStatus {
    return {
      status: this.current,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      consecutiveFailures: this.failures,
    };
  }
}
