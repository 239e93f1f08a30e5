import { describe, expect, it } from 'vitest';
import { erfc, normalUpperTail, twoProportionUplift } from '../../src/reports/uplift.js';

describe('twoProportionUplift', () => {
  it('matches a case worked by hand', () => {
    // Target 60 of 1000 (6 %), control 40 of 1000 (4 %).
    // Pooled p = 100/2000 = 0.05; SE = sqrt(0.05 · 0.95 · (1/1000 + 1/1000)) = sqrt(0.000095) = 0.00974679
    // z = 0.02 / 0.00974679 = 2.05196; two-sided p = 2 · (1 − Φ(2.05196)) = 0.04017
    //   (tables: Φ(2.05) = 0.97982, Φ(2.06) = 0.98030; interpolated Φ(2.05196) = 0.979914).
    // Unpooled SE = sqrt(0.06 · 0.94/1000 + 0.04 · 0.96/1000) = sqrt(0.0000948) = 0.00973653
    // 95 % interval = 0.02 ± 1.959964 · 0.00973653 = 0.02 ± 0.019083 = [0.000917, 0.039083].
    const u = twoProportionUplift({ conversions: 60, size: 1000 }, { conversions: 40, size: 1000 });
    expect(u.absolute).toBeCloseTo(0.02, 12);
    expect(u.relative).toBeCloseTo(0.5, 12);
    expect(u.z).toBeCloseTo(2.05196, 4);
    expect(u.pValue).toBeCloseTo(0.04017, 4);
    expect(u.ci95![0]).toBeCloseTo(0.000917, 5);
    expect(u.ci95![1]).toBeCloseTo(0.039083, 5);
  });

  it('is symmetric when the target does worse', () => {
    const u = twoProportionUplift({ conversions: 40, size: 1000 }, { conversions: 60, size: 1000 });
    expect(u.z).toBeCloseTo(-2.05196, 4);
    expect(u.pValue).toBeCloseTo(0.04017, 4);
    expect(u.relative).toBeCloseTo(-1 / 3, 12);
  });

  it('gives nulls instead of infinities for empty groups or no variance', () => {
    expect(twoProportionUplift({ conversions: 5, size: 100 }, { conversions: 0, size: 0 })).toEqual({
      absolute: null, relative: null, z: null, pValue: null, ci95: null,
    });
    const none = twoProportionUplift({ conversions: 0, size: 100 }, { conversions: 0, size: 50 });
    expect(none).toMatchObject({ absolute: 0, relative: null, z: null, pValue: null, ci95: [0, 0] });
  });

  it('has a normal tail accurate to table values', () => {
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 7);
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalUpperTail(3)).toBeCloseTo(0.0013499, 6);
    expect(erfc(-1)).toBeCloseTo(2 - erfc(1), 12);
  });
});
