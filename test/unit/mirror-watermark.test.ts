import { describe, expect, it } from 'vitest';
import { nextWatermark } from '../../src/lists/list.mirror.js';

describe('mirror watermark', () => {
  const overlap = 5_000_000;

  it('starts at the horizon, and at the horizon less the overlap when it is uncertain', () => {
    expect(nextWatermark(undefined, { us: 1_000_000_000, uncertain: false }, overlap)).toBe(1_000_000_000);
    expect(nextWatermark(undefined, { us: 1_000_000_000, uncertain: true }, overlap)).toBe(995_000_000);
  });

  it('never moves back, even when an old transaction is still open', () => {
    expect(nextWatermark(2_000_000_000, { us: 1_500_000_000, uncertain: false }, overlap)).toBe(2_000_000_000);
    expect(nextWatermark(2_000_000_000, { us: 2_500_000_000, uncertain: false }, overlap)).toBe(2_500_000_000);
  });
});
