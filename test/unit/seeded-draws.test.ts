import { describe, expect, it } from 'vitest';
import { SeededDraws } from '../../src/gateways/simulator/seeded-draws.js';

describe('seeded draws', () => {
  it('follows mulberry32 (values from an independent implementation)', () => {
    const one = new SeededDraws(1);
    expect([one.next(), one.next(), one.next()]).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    const fortyTwo = new SeededDraws(42);
    expect(fortyTwo.next()).toBe(0.6011037519201636);
  });

  it('happens(rate) is a draw below the rate', () => {
    const draws = new SeededDraws(1);
    expect(draws.happens(0.6)).toBe(false); // 0.627…
    expect(draws.happens(0.01)).toBe(true); // 0.0027…
    expect(draws.happens(1)).toBe(true); // 0.527…
  });

  it('a rate of 0 never happens and draws nothing', () => {
    const draws = new SeededDraws(1);
    expect(draws.happens(0)).toBe(false);
    expect(draws.next()).toBe(0.6270739405881613);
  });

  it('the same seed repeats draw for draw', () => {
    const a = new SeededDraws(2026);
    const b = new SeededDraws(2026);
    const drawn = (draws: SeededDraws) => Array.from({ length: 100 }, () => draws.next());
    const fromA = drawn(a);
    expect(drawn(b)).toEqual(fromA);
    expect(fromA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
