import { SqlParams } from '../conditions/params.js';
import type { BitmapIndex } from '../segments/bitmaps/bitmap.index.js';
import { RoaringBitmap32 } from '../segments/bitmaps/roaring.js';
import { segmentMembersTable } from '../warehouse/tables.js';
import { skipReason, stepName, stepSource, type FunnelStep, type StepContext } from './funnel.js';
import type { PolicyStep } from './policy.schemas.js';

export interface BitmapFunnelResult {
  /** Segment members that are customers now. */
  segmentCount: number;
  removedByStep: Map<number, number>;
  kept: number;
  steps: FunnelStep[];
  /** Who each step removed (1-based step number), and who is left: row numbers of the profile. */
  removed: Map<number, RoaringBitmap32>;
  remaining: RoaringBitmap32;
}

/**
 * The first removing step per customer as bitmap differences: remaining = segment; for each step,
 * removed_i = remaining ∧ step_i and remaining −= removed_i. The order of the steps is the
 * policy's, so a customer two steps would remove counts at the first only, as in
 * `compileFirstRemovingStep`. Every step's customers come from ONE scan of the profile.
 */
export function firstRemovingSteps(segment: RoaringBitmap32, steps: ReadonlyArray<RoaringBitmap32 | undefined>): { removed: RoaringBitmap32[]; remaining: RoaringBitmap32 } {
  let remaining = segment.clone();
  const removed: RoaringBitmap32[] = [];
  for (const step of steps) {
    if (!step) {
      // A skipped step removes nobody.
      removed.push(new RoaringBitmap32());
      continue;
    }
    const out = remaining.intersection(step);
    remaining = remaining.difference(out);
    removed.push(out);
  }
  return { removed, remaining };
}

/** The funnel of a materialised segment through policy steps, on the bitmap index. */
export async function bitmapFunnel(index: BitmapIndex, segmentId: string, steps: readonly PolicyStep[], ctx: StepContext): Promise<BitmapFunnelResult | undefined> {
  return index.session(async (session) => {
    const params = new SqlParams();
    const described: FunnelStep[] = [];
    const sources: Array<{ key: string; sql: string }> = [
      { key: 'segment', sql: `c.customer_id IN (SELECT customer_id FROM ${segmentMembersTable(segmentId)} WHERE customer_id IS NOT NULL)` },
    ];
    steps.forEach((step, i) => {
      const skipped = skipReason(step, ctx);
      described.push({ index: i + 1, name: stepName(step), type: step.type, ...(skipped ? { skipped } : {}) });
      if (!skipped) sources.push({ key: String(i + 1), sql: `c.customer_id IN (SELECT customer_id FROM (${stepSource(step, i, ctx, params)}) WHERE customer_id IS NOT NULL)` });
    });
    const bitmaps = await session.predicates(sources, params);
    const segment = bitmaps.get('segment')!;
    const { removed, remaining } = firstRemovingSteps(segment, described.map((s) => bitmaps.get(String(s.index))));
    return {
      segmentCount: segment.size,
      removedByStep: new Map(removed.map((r, i) => [i + 1, r.size] as const).filter(([, n]) => n > 0)),
      kept: remaining.size,
      steps: described,
      removed: new Map(removed.map((r, i) => [i + 1, r])),
      remaining,
    };
  });
}
