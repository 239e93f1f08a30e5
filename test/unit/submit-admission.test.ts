import { describe, expect, it } from 'vitest';
import { PerSecondCap } from '../../src/gateways/simulator/rate-cap.js';
import { SeededDraws } from '../../src/gateways/simulator/seeded-draws.js';
import { admitSubmit } from '../../src/gateways/simulator/submit-admission.js';

// Seed 1 draws 0.627…, 0.0027…, 0.527…, 0.981… (mulberry32, from an independent implementation).
const SEED = 1;

describe('submit admission', () => {
  it('accepts everything when no rate is set, drawing nothing', () => {
    const draws = new SeededDraws(SEED);
    const cap = new PerSecondCap();
    expect(admitSubmit(cap, draws, { maxPerSecond: 0, throttleRate: 0, failureRate: 0 })).toBe('accepted');
    expect(draws.next()).toBe(0.6270739405881613);
  });

  it('draws the throttle before the failure, each only when its rate is set', () => {
    const draws = new SeededDraws(SEED);
    const cap = new PerSecondCap();
    const rates = { maxPerSecond: 0, throttleRate: 0.5, failureRate: 0.5 };
    // 0.627 ≥ 0.5: not throttled; 0.0027 < 0.5: failed.
    expect(admitSubmit(cap, draws, rates)).toBe('failed');
    // 0.527 ≥ 0.5: not throttled; 0.981 ≥ 0.01: accepted.
    expect(admitSubmit(cap, draws, { ...rates, failureRate: 0.01 })).toBe('accepted');
  });

  it('a throttled submit draws no failure', () => {
    const draws = new SeededDraws(SEED);
    const cap = new PerSecondCap();
    expect(admitSubmit(cap, draws, { maxPerSecond: 0, throttleRate: 0.7, failureRate: 1 })).toBe('throttled'); // 0.627 < 0.7
    expect(draws.next()).toBe(0.002735721180215478);
  });

  it('over the cap it throttles without a draw; only accepted submits fill the cap', () => {
    const draws = new SeededDraws(SEED);
    const cap = new PerSecondCap();
    expect(admitSubmit(cap, draws, { maxPerSecond: 1, throttleRate: 0, failureRate: 1 })).toBe('failed');
    expect(admitSubmit(cap, draws, { maxPerSecond: 1, throttleRate: 0, failureRate: 0 })).toBe('accepted');
    expect(admitSubmit(cap, draws, { maxPerSecond: 1, throttleRate: 0, failureRate: 1 })).toBe('throttled');
    // One draw so far (the first failure): the next is the second of the sequence.
    expect(draws.next()).toBe(0.002735721180215478);
  });
});
