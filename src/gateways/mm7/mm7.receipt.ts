/**
 * MM7 delivery reports as ledger receipts. One SubmitReq may carry many recipients under one
 * MessageID, while the ledger keys a message by (gateway, gateway message id): so the id of a
 * recipient's message is the MessageID and the recipient's number together, and a
 * DeliveryReportReq (which names both) comes back to the same key.
 */

/** MMStatus (TS 23.140 §8.4.2) → the SMPP-style receipt status the ledger reads. */
const MM_STATUS_RECEIPTS: ReadonlyMap<string, string> = new Map([
  ['retrieved', 'DELIVRD'],
  ['expired', 'EXPIRED'],
  ['rejected', 'REJECTD'],
  ['deferred', 'ENROUTE'],
  ['indeterminate', 'UNKNOWN'],
  // Handed on to another MMSC: still on its way.
  ['forwarded', 'ENROUTE'],
  // The recipient's MMSC or handset could not handle the message.
  ['unrecognised', 'UNDELIV'],
]);

/** The receipt status for an MMStatus; an MMStatus outside the specification is UNKNOWN (final: failed). */
export function receiptStatusOf(mmStatus: string): string {
  return MM_STATUS_RECEIPTS.get(mmStatus.trim().toLowerCase()) ?? 'UNKNOWN';
}

/**
 * A number as both sides can agree on it: the `/TYPE=PLMN` suffix some MMSCs add dropped, digits
 * only, and China's country code (+86, 0086) taken off an 11-digit mobile number, since the MMSC
 * may report `8613800138000` for the `13800138000` we submitted.
 */
export function recipientKey(address: string): string {
  const bare = address.replace(/\/TYPE=.*$/i, '').trim();
  if (bare.includes('@')) return bare.toLowerCase();
  const digits = bare.replace(/\D/g, '');
  const national = /^(?:0086|86)(1\d{10})$/.exec(digits);
  return national ? national[1]! : digits;
}

/** The ledger's id for one recipient of a submitted MM: `<MessageID>/<recipient key>`. */
export function recipientMessageId(messageId: string, recipient: string): string {
  return `${messageId.trim()}/${recipientKey(recipient)}`;
}
