import type { PreparedCondition } from '../conditions/condition.service.js';
import type { SqlParams } from '../conditions/params.js';
import { assertNever } from './policy.service.js';
import type { PolicyStep } from './policy.schemas.js';

/** What the steps of one run are judged against. */
export interface StepContext {
  /** The instant list expiry and recent contact are measured from. */
  asOf: Date;
  /** The business date (YYYY-MM-DD) a subscription must still be active on. */
  today: string;
  productId: string | null;
  category: string | null;
  /** Prepared conditions of the `condition` steps, by step index (0-based). */
  conditions: ReadonlyMap<number, PreparedCondition>;
}

/** A step as the funnel reports it. `index` is 1-based: the value of `removed_by_step`. */
export interface FunnelStep {
  index: number;
  name: string;
  type: PolicyStep['type'];
  /** Why the step removed nobody without being evaluated (e.g. hasProduct without a product). */
  skipped?: string;
}

export type FunnelEntry =
  | { step: 'segment'; remaining: number }
  | { step: string; index: number; type: PolicyStep['type']; removed: number; remaining: number; skipped?: true; note?: string };

/** The name a step carries in the funnel: its label, or its type and parameters. */
export function stepName(step: PolicyStep): string {
  if (step.label) return step.label;
  switch (step.type) {
    case 'list':
      return `list:${step.list}`;
    case 'recentContact':
      return `recentContact:${step.days}d${step.sameCategory ? ':sameCategory' : ''}`;
    case 'hasProduct':
      return 'hasProduct';
    case 'condition':
      return 'condition';
    case 'upload':
      return `upload:${step.listId}`;
    default:
      return assertNever(step);
  }
}

/** Why a step cannot apply in this context, or undefined when it applies. */
export function skipReason(step: PolicyStep, ctx: Pick<StepContext, 'productId' | 'category'>): string | undefined {
  if (step.type === 'hasProduct' && ctx.productId === null) return 'no productId was given, so no product can conflict';
  if (step.type === 'recentContact' && step.sameCategory && ctx.category === null) {
    return 'no category was given, so no campaign can be of the same category';
  }
  return undefined;
}

/** The instant `days` before `asOf`. */
export function contactSince(asOf: Date, days: number): Date {
  return new Date(asOf.getTime() - days * 86_400_000);
}

/** `c.customer_id IN (…)` over entries of a list that are unexpired at `asOf`. */
function onList(listName: string, ctx: StepContext, params: SqlParams, alias: string): string {
  const name = params.add(listName, 'VARCHAR');
  const at = params.add(ctx.asOf.toISOString(), 'TIMESTAMPTZ');
  return `${alias}.customer_id IN (SELECT customer_id FROM list_members WHERE list_name = ${name} AND (expires_at IS NULL OR expires_at > ${at}))`;
}

/** Two-valued SQL over the profile row `alias` that is true for customers the step removes. */
export function stepPredicate(step: PolicyStep, index: number, ctx: StepContext, params: SqlParams, alias = 'c'): string {
  switch (step.type) {
    case 'list':
      return onList(step.list, ctx, params, alias);
    case 'upload':
      return onList(step.listId, ctx, params, alias);
    case 'recentContact': {
      const since = params.add(contactSince(ctx.asOf, step.days).toISOString(), 'TIMESTAMPTZ');
      const sameCategory = step.sameCategory ? ` AND category = ${params.add(ctx.category!, 'VARCHAR')}` : '';
      return `${alias}.customer_id IN (SELECT customer_id FROM contact_history WHERE sent_at >= ${since}${sameCategory})`;
    }
    case 'hasProduct': {
      const product = params.add(ctx.productId!, 'VARCHAR');
      const today = params.add(ctx.today, 'DATE');
      return `${alias}.customer_id IN (SELECT customer_id FROM subscriptions WHERE product_id = ${product} AND (end_date IS NULL OR end_date >= ${today}))`;
    }
    case 'condition': {
      const prepared = ctx.conditions.get(index);
      if (!prepared) throw new Error(`condition step ${index + 1} was not prepared`);
      return prepared.predicate(params, alias);
    }
    default:
      return assertNever(step);
  }
}

/**
 * `CASE WHEN <step 1> THEN 1 WHEN <step 2> THEN 2 … ELSE 0 END`: the first step that removes the
 * customer, 0 for kept. Order is the policy's: a customer on two lists counts at the first only.
 * Skipped steps are left out of the CASE but keep their number.
 */
export function compileRemovedBy(steps: readonly PolicyStep[], ctx: StepContext, params: SqlParams, alias = 'c'): { sql: string; steps: FunnelStep[] } {
  const described: FunnelStep[] = [];
  const branches: string[] = [];
  steps.forEach((step, i) => {
    const skipped = skipReason(step, ctx);
    described.push({ index: i + 1, name: stepName(step), type: step.type, ...(skipped ? { skipped } : {}) });
    if (!skipped) branches.push(`WHEN ${stepPredicate(step, i, ctx, params, alias)} THEN ${i + 1}`);
  });
  return { sql: branches.length === 0 ? '0' : `CASE ${branches.join(' ')} ELSE 0 END`, steps: described };
}

/** `{step:"segment", remaining}` then, per step, what it removed from what was left. */
export function buildFunnel(segmentCount: number, removedByStep: ReadonlyMap<number, number>, steps: readonly FunnelStep[]): FunnelEntry[] {
  const funnel: FunnelEntry[] = [{ step: 'segment', remaining: segmentCount }];
  let remaining = segmentCount;
  for (const step of steps) {
    const removed = removedByStep.get(step.index) ?? 0;
    remaining -= removed;
    funnel.push({
      step: step.name,
      index: step.index,
      type: step.type,
      removed,
      remaining,
      ...(step.skipped ? { skipped: true as const, note: step.skipped } : {}),
    });
  }
  return funnel;
}

/** The hold-out size: exactly round(kept × percent / 100). */
export function controlGroupSize(kept: number, percent: number): number {
  return Math.round((kept * percent) / 100);
}
