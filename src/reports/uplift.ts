/** Conversions out of a group's size. */
export interface Proportion {
  conversions: number;
  size: number;
}

/** Target against control: differences of conversion rates and the two-proportion z-test. */
export interface Uplift {
  /** Target rate minus control rate. */
  absolute: number | null;
  /** The absolute uplift over the control rate (null when the control converted nobody). */
  relative: number | null;
  /** With the pooled standard error (the null hypothesis: one common rate). */
  z: number | null;
  /** Two-sided. */
  pValue: number | null;
  /** 95 % interval of the difference, with the unpooled standard error. */
  ci95: [number, number] | null;
}

const Z_975 = 1.959963984540054;

/**
 * The two-proportion z-test of target against control. The test statistic uses the pooled
 * standard error (under the null both groups share one rate); the interval of the difference uses
 * the unpooled one (each group its own rate), as the textbooks do. Figures that need a group with
 * no members, or a pooled rate of 0 or 1 (no variance), are null rather than infinite.
 */
export function twoProportionUplift(target: Proportion, control: Proportion): Uplift {
  if (target.size <= 0 || control.size <= 0) return { absolute: null, relative: null, z: null, pValue: null, ci95: null };
  const p1 = target.conversions / target.size;
  const p2 = control.conversions / control.size;
  const absolute = p1 - p2;
  const relative = p2 > 0 ? absolute / p2 : null;
  const pooled = (target.conversions + control.conversions) / (target.size + control.size);
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / target.size + 1 / control.size));
  const z = sePooled > 0 ? absolute / sePooled : null;
  const pValue = z === null ? null : Math.min(1, 2 * normalUpperTail(Math.abs(z)));
  const seUnpooled = Math.sqrt((p1 * (1 - p1)) / target.size + (p2 * (1 - p2)) / control.size);
  const ci95: [number, number] = [absolute - Z_975 * seUnpooled, absolute + Z_975 * seUnpooled];
  return { absolute, relative, z, pValue, ci95 };
}

/** P(Z > x) for a standard normal Z. */
export function normalUpperTail(x: number): number {
  return 0.5 * erfc(x / Math.SQRT2);
}

/**
 * The complementary error function, by the Chebyshev fit of Numerical Recipes (`erfcc`):
 * fractional error below 1.2e-7 everywhere, ample for p-values.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
