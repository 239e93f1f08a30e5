import type { PerSecondCap } from './rate-cap.js';
import type { SeededDraws } from './seeded-draws.js';

/** The rates an SMS simulator answers submits by. */
export interface AdmissionRates {
  /** Accepted submits per second, at most; 0 is no cap. */
  maxPerSecond: number;
  /** Fraction of submits throttled (ESME_RTHROTTLED, CMPP Result 8). */
  throttleRate: number;
  /** Fraction of submits refused for good. */
  failureRate: number;
}

export type Admission = 'accepted' | 'throttled' | 'failed';

/**
 * How a simulator answers a submit: over the cap it is throttled without a draw, then the throttle
 * draw, then the failure draw; an accepted submit counts towards the cap. The order is part of the
 * contract: a seeded run draws the same numbers for the same submits.
 */
export function admitSubmit(cap: PerSecondCap, draws: SeededDraws, rates: AdmissionRates): Admission {
  if (cap.isFull(rates.maxPerSecond)) return 'throttled';
  if (draws.happens(rates.throttleRate)) return 'throttled';
  if (draws.happens(rates.failureRate)) return 'failed';
  cap.take();
  return 'accepted';
}
