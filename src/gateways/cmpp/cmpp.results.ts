/**
 * What the ISMG's numeric answers mean: CONNECT_RESP Status and SUBMIT_RESP Result.
 */

// CMPP 2.0 §7.4.3.2 / 3.0 §6.2.2: CONNECT_RESP Status.
const CONNECT_STATUSES: Readonly<Record<number, string>> = {
  0: 'correct',
  1: 'message structure error',
  2: 'illegal source address',
  3: 'authentication error',
  4: 'version too high',
};

export function describeConnectStatus(status: number): string {
  return `status ${status} (${CONNECT_STATUSES[status] ?? 'other error'})`;
}

// SUBMIT_RESP Result: 0–8 in both versions; 9–13 are named in 3.0 (2.0 calls everything from 9 "other").
const SUBMIT_RESULTS: Readonly<Record<number, string>> = {
  0: 'correct',
  1: 'message structure error',
  2: 'command word error',
  3: 'duplicate message sequence',
  4: 'message length error',
  5: 'fee code error',
  6: 'message too long',
  7: 'service id error',
  8: 'flow control error',
  9: 'not the gateway of this fee terminal',
  10: 'Src_Id error',
  11: 'Msg_src error',
  12: 'Fee_terminal_Id error',
  13: 'Dest_terminal_Id error',
};

/** Result 8: the ISMG is over the SP's licensed flow; the submit was not taken and may be sent again later. */
export const RESULT_FLOW_CONTROL = 8;

/** The stable code of a SUBMIT_RESP Result, e.g. `CMPP_RESULT_13`. */
export function resultCode(result: number): string {
  return `CMPP_RESULT_${result}`;
}

export function describeResult(result: number): string {
  return `Result ${result} (${SUBMIT_RESULTS[result] ?? 'other error'})`;
}

export type ResultClass = 'accepted' | 'retryable' | 'rejected';

/**
 * 0 is taken; a result in `retryable` (by default flow control, 8) was not taken and may be sent
 * again; every other result is final.
 */
export function classifyResult(result: number, retryable: ReadonlySet<number>): ResultClass {
  if (result === 0) return 'accepted';
  return retryable.has(result) ? 'retryable' : 'rejected';
}
