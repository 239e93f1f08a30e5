/**
 * Answers and receipts due after a delay: every pending timer is known, so `stop` and `reset`
 * cancel them all and nothing fires into a closed simulator.
 */
export class DelayedTasks {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs the task after `ms`; at once (synchronously) when `ms` is 0 or less. */
  later(ms: number, task: () => void): void {
    if (ms <= 0) {
      task();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    this.timers.add(timer);
  }

  cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

/** Receipts for a client that is not bound, kept for its next bind, the oldest first and at most `limit`. */
export class HeldReceipts<T> {
  private held: T[] = [];

  constructor(private readonly limit: number) {}

  /** Keeps the receipt unless `limit` are already held (then it is dropped). */
  hold(receipt: T): void {
    if (this.held.length < this.limit) this.held.push(receipt);
  }

  /** Every held receipt, the oldest first; they are no longer held. */
  release(): T[] {
    const held = this.held;
    this.held = [];
    return held;
  }

  clear(): void {
    this.held = [];
  }
}
