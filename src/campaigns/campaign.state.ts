import type { CampaignStatus } from '../db/schema.js';
import { AppError } from '../http/errors.js';

/**
 * The campaign lifecycle, in one place: every action, the states it may start from and the state
 * it leads to. Repositories apply a transition with a guarded update (`WHERE status = ANY(from)`),
 * so two schedulers pressing pause and cancel at once cannot both win.
 *
 * draft → targeted → approved → scheduled | sending ⇄ paused → completed; cancelled; failed.
 */
export const TRANSITIONS = {
  edit: { from: ['draft', 'targeted'], to: 'draft' },
  target: { from: ['draft', 'targeted'], to: 'targeted' },
  approve: { from: ['targeted'], to: 'approved' },
  launch: { from: ['approved'], to: 'sending' },
  schedule: { from: ['approved'], to: 'scheduled' },
  /** The scheduled time came (a delayed job, or the reconciler if Redis lost it). */
  start: { from: ['scheduled'], to: 'sending' },
  pause: { from: ['sending', 'scheduled'], to: 'paused' },
  resume: { from: ['paused'], to: 'sending' },
  /** Resumed before its start time: it waits for it again. */
  reschedule: { from: ['paused'], to: 'scheduled' },
  cancel: { from: ['draft', 'targeted', 'approved', 'scheduled', 'sending', 'paused'], to: 'cancelled' },
  /** Nothing is queued or sending any more. */
  complete: { from: ['sending'], to: 'completed' },
  fail: { from: ['scheduled', 'sending', 'paused'], to: 'failed' },
} as const satisfies Record<string, { from: readonly CampaignStatus[]; to: CampaignStatus }>;

export type CampaignAction = keyof typeof TRANSITIONS;

/** Campaigns that have a ledger (launched at some point). */
export const LAUNCHED_STATES: readonly CampaignStatus[] = ['scheduled', 'sending', 'paused', 'completed', 'cancelled', 'failed'];
/** Campaigns whose gateway may not be removed. */
export const ACTIVE_STATES: readonly CampaignStatus[] = ['scheduled', 'sending', 'paused'];
/** Campaigns that may be deleted (nothing was ever frozen). */
export const DELETABLE_STATES: readonly CampaignStatus[] = ['draft', 'targeted', 'approved'];

export function allowedFrom(action: CampaignAction): readonly CampaignStatus[] {
  return TRANSITIONS[action].from;
}

/** 409 naming the current state, the action and what it needs. */
export function illegalTransition(action: CampaignAction | 'delete', current: CampaignStatus): AppError {
  const from = action === 'delete' ? DELETABLE_STATES : allowedFrom(action);
  return new AppError('CONFLICT', `Cannot ${action} a campaign that is ${current} (only when ${from.join(' or ')})`, undefined, {
    currentStatus: current,
  });
}

export function assertTransition(action: CampaignAction, current: CampaignStatus): CampaignStatus {
  if (!(allowedFrom(action) as readonly string[]).includes(current)) throw illegalTransition(action, current);
  return TRANSITIONS[action].to;
}
