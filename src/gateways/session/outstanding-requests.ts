/** Why a request got no response: none came in time, or the connection closed first. */
export type NoResponse = 'timeout' | 'lost';

/**
 * The requests written on one connection and not yet answered, keyed by sequence number. Each
 * waits at most its own timeout, and when the connection closes every one still waiting is
 * `lost`: it may or may not have been acted on.
 */
export class OutstandingRequests<R extends object> {
  private readonly waiting = new Map<number, (answer: R | NoResponse) => void>();

  /** Waits for the response to the request written (or about to be written) under `sequence`. */
  response(sequence: number, timeoutMs: number): Promise<R | NoResponse> {
    return new Promise((resolve) => {
      const settle = (answer: R | NoResponse): void => {
        this.waiting.delete(sequence);
        clearTimeout(timer);
        resolve(answer);
      };
      const timer = setTimeout(() => settle('timeout'), timeoutMs);
      this.waiting.set(sequence, settle);
    });
  }

  /** Hands a response to its request; false when none waits under that number (it timed out, or was never asked). */
  answer(sequence: number, response: R): boolean {
    const settle = this.waiting.get(sequence);
    if (!settle) return false;
    settle(response);
    return true;
  }

  /** The connection closed: every request still waiting is `lost`. */
  loseAll(): void {
    for (const settle of [...this.waiting.values()]) settle('lost');
  }
}
