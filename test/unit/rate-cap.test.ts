import { describe, expect, it } from 'vitest';
import { PerSecondCap } from '../../src/gateways/simulator/rate-cap.js';

describe('per-second cap', () => {
  it('is full once maxPerSecond are taken within the second, and opens again a second after the window began', () => {
    const cap = new PerSecondCap();
    const t0 = 10_000;
    for (let n = 0; n < 3; n += 1) {
      expect(cap.isFull(3, t0 + n * 100)).toBe(false);
      cap.take();
    }
    expect(cap.isFull(3, t0 + 999)).toBe(true);
    expect(cap.isFull(3, t0 + 1_000)).toBe(false);
  });

  it('counts only what was taken: refused submits do not fill it', () => {
    const cap = new PerSecondCap();
    for (let n = 0; n < 10; n += 1) expect(cap.isFull(2, 5_000)).toBe(false);
    cap.take();
    expect(cap.isFull(2, 5_001)).toBe(false);
    cap.take();
    expect(cap.isFull(2, 5_002)).toBe(true);
  });

  it('0 is no cap', () => {
    const cap = new PerSecondCap();
    for (let n = 0; n < 1_000; n += 1) cap.take();
    expect(cap.isFull(0, 1)).toBe(false);
  });

  it('reset empties the current second', () => {
    const cap = new PerSecondCap();
    expect(cap.isFull(1, 7_000)).toBe(false);
    cap.take();
    expect(cap.isFull(1, 7_001)).toBe(true);
    cap.reset();
    expect(cap.isFull(1, 7_002)).toBe(false);
  });
});
