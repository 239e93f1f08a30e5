import { setTimeout as sleep } from 'node:timers/promises';
import type { OutboundMessage, SubmitOutcome } from '../gateway.js';

/** What became of one part of a message: the gateway's id for it, or why it was not taken. */
export type PartResult =
  | { kind: 'accepted'; id: string }
  | { kind: 'rejected' | 'retryable' | 'unknown'; code: string; message: string };

export type PartFailure = Exclude<PartResult, { kind: 'accepted' }>;

// A later part of a long message cannot be resubmitted alone later (its siblings are already
// out), so a retryable later part is retried in place this many times.
const LATER_PART_ATTEMPTS = 3;
const MIN_RETRY_PAUSE_MS = 50;

/**
 * One message's outcome from its parts: `acceptedIds` are the ids of the first parts taken, in
 * order, and `failure` what stopped the next one (null when all `total` were taken). Once a part
 * is out the message must never be resubmitted whole, so a failure after it is `unknown` or
 * `rejected`, never `retryable`, and names the ids already taken so their receipts can be traced.
 */
export function messageOutcome(ref: string, total: number, acceptedIds: readonly string[], failure: PartFailure | null): SubmitOutcome {
  if (failure === null) return { kind: 'accepted', ref, gatewayMessageIds: [...acceptedIds] };
  if (acceptedIds.length === 0) return { kind: failure.kind, ref, code: failure.code, message: failure.message };
  const taken = `; parts 1-${acceptedIds.length} of ${total} were accepted as ${acceptedIds.join(',')}`;
  const kind = failure.kind === 'unknown' ? 'unknown' : 'rejected';
  return { kind, ref, code: failure.code, message: `${failure.message}${taken}` };
}

/**
 * Submits the parts of one message in order, stopping at the first one not taken; a later part
 * answered `retryable` is retried in place (after `retryPauseMs`, at least 50 ms) before giving up.
 */
export async function submitParts<P>(
  ref: string,
  parts: readonly P[],
  submitPart: (part: P) => Promise<PartResult>,
  retryPauseMs: number,
): Promise<SubmitOutcome> {
  const ids: string[] = [];
  for (const part of parts) {
    let result = await submitPart(part);
    for (let attempt = 1; result.kind === 'retryable' && ids.length > 0 && attempt < LATER_PART_ATTEMPTS; attempt += 1) {
      await sleep(Math.max(retryPauseMs, MIN_RETRY_PAUSE_MS));
      result = await submitPart(part);
    }
    if (result.kind !== 'accepted') return messageOutcome(ref, parts.length, ids, result);
    ids.push(result.id);
  }
  return messageOutcome(ref, parts.length, ids, null);
}

/**
 * Submits every message of a batch at once. A submit that throws answers `unknown`: a part may
 * have been written before the failure, so the message is never resubmitted blindly.
 */
export function submitEach(
  batch: readonly OutboundMessage[],
  submitMessage: (message: OutboundMessage) => Promise<SubmitOutcome>,
  onUnexpected: (error: unknown, message: OutboundMessage) => void,
): Promise<SubmitOutcome[]> {
  return Promise.all(
    batch.map((message) =>
      submitMessage(message).catch((error: unknown): SubmitOutcome => {
        onUnexpected(error, message);
        return { kind: 'unknown', ref: message.ref, code: 'INTERNAL_ERROR', message: 'the submit failed unexpectedly' };
      }),
    ),
  );
}
