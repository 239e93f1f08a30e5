import { setTimeout as sleep } from 'node:timers/promises';

/** A stop in submitting that the gateway asked for (throttled, queue full, flow control). */
export class ThrottlePause {
  private until = 0;

  /** Stops submitting for `ms` from now, unless it is already stopped for longer. */
  pauseFor(ms: number): void {
    this.until = Math.max(this.until, Date.now() + ms);
  }

  /** Resolves once no pause is in force; a pause lengthened meanwhile is waited out too. */
  async waitOut(): Promise<void> {
    for (let wait = this.until - Date.now(); wait > 0; wait = this.until - Date.now()) {
      await sleep(wait);
    }
  }
}
