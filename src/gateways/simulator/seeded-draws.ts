/**
 * The draws behind a simulator's rates (throttling, failures, receipt outcomes), from a small
 * seeded PRNG (mulberry32) so that a seeded run repeats draw for draw.
 */
export class SeededDraws {
  private state: number;

  constructor(seed: number = Date.now()) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Whether an event of this rate happens; a rate of 0 draws nothing, so it leaves the sequence as it was. */
  happens(rate: number): boolean {
    return rate > 0 && this.next() < rate;
  }
}
