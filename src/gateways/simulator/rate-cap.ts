/** A cap on accepted submits per second, counted in one-second windows from the first submit of each. */
export class PerSecondCap {
  private windowStartedAt = 0;
  private acceptedInWindow = 0;

  /** Whether `maxPerSecond` are already accepted in this second; 0 is no cap. */
  isFull(maxPerSecond: number, now: number = Date.now()): boolean {
    if (now - this.windowStartedAt >= 1_000) {
      this.windowStartedAt = now;
      this.acceptedInWindow = 0;
    }
    return maxPerSecond > 0 && this.acceptedInWindow >= maxPerSecond;
  }

  /** Counts one accepted submit in the current second. */
  take(): void {
    this.acceptedInWindow += 1;
  }

  reset(): void {
    this.acceptedInWindow = 0;
  }
}
