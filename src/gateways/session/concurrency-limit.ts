/**
 * At most `size` tasks at once (SUBMITs unanswered, HTTP requests open); the others wait in
 * arrival order. A finishing task hands its slot straight to the first waiter, so a newcomer
 * never overtakes one that waits.
 */
export class ConcurrencyLimit {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** Runs `task` once a slot is free, and frees it when the task settles. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Lets every waiting task run now, over the limit: the gateway is closing and each will find it closed. */
  admitAll(): void {
    const waiting = this.waiting.splice(0);
    this.held += waiting.length;
    for (const admit of waiting) admit();
  }

  private async acquire(): Promise<void> {
    if (this.held < this.size) {
      this.held += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held -= 1;
  }
}
