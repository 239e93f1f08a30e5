/**
 * What an MM7 status code (TS 23.140 §8.1, table 31) means for the messages of a SubmitReq.
 *
 * - `accepted`: 1000; `partial`: 1100, the recipients named in Details failed and the others were taken;
 * - `split`: 3003, this MMSC takes one recipient per SubmitReq: send them again one by one;
 * - `rejected`: this message can never go (bad address, refused content…): never retry;
 * - `retryable`: not taken and worth trying later (the server is busy or failing);
 * - `gateway`: our side of the link is wrong (credentials, version, permissions), so every message
 *   would fail alike: not taken, retried later, and counted as a gateway failure so that the
 *   campaign pauses instead of failing every recipient.
 */
export type Mm7StatusKind = 'accepted' | 'partial' | 'split' | 'rejected' | 'retryable' | 'gateway';

export interface Mm7StatusClass {
  kind: Mm7StatusKind;
  /** The name of the code in the specification, for messages and logs. */
  name: string;
}

/** The codes of TS 23.140 REL-6 with their kind; a code not listed falls back to its class (`classifyMm7Status`). */
const KNOWN: ReadonlyMap<number, Mm7StatusClass> = new Map([
  [1000, { kind: 'accepted', name: 'Success' }],
  [1100, { kind: 'partial', name: 'Partial success' }],
  [2000, { kind: 'rejected', name: 'Client error' }],
  [2001, { kind: 'rejected', name: 'Operation restricted' }],
  [2002, { kind: 'rejected', name: 'Address Error' }],
  [2003, { kind: 'rejected', name: 'Address Not Found' }],
  [2004, { kind: 'rejected', name: 'Multimedia content refused' }],
  [2005, { kind: 'rejected', name: 'Message ID Not found' }],
  [2006, { kind: 'rejected', name: 'LinkedID not found' }],
  [2007, { kind: 'rejected', name: 'Message format corrupt' }],
  [2008, { kind: 'rejected', name: 'Application ID not found' }],
  [2009, { kind: 'rejected', name: 'Reply Application ID not found' }],
  [3000, { kind: 'retryable', name: 'Server Error' }],
  [3001, { kind: 'retryable', name: 'Not Possible' }],
  // The server looked at this message and refused it: the same message would be refused again.
  [3002, { kind: 'rejected', name: 'Message rejected' }],
  [3003, { kind: 'split', name: 'Multiple addresses not supported' }],
  [3004, { kind: 'rejected', name: 'Application Addressing not supported' }],
  [4000, { kind: 'retryable', name: 'General service error' }],
  [4001, { kind: 'gateway', name: 'Improper identification' }],
  [4002, { kind: 'gateway', name: 'Unsupported version' }],
  [4003, { kind: 'gateway', name: 'Unsupported operation' }],
  // Our envelope broke the schema for this message (a field too long, a bad address form).
  [4004, { kind: 'rejected', name: 'Validation error' }],
  [4005, { kind: 'retryable', name: 'Service error' }],
  [4006, { kind: 'retryable', name: 'Service unavailable' }],
  [4007, { kind: 'gateway', name: 'Service denied' }],
  [4008, { kind: 'gateway', name: 'Application denied' }],
]);

export function classifyMm7Status(code: number): Mm7StatusClass {
  const known = KNOWN.get(code);
  if (known) return known;
  // Codes an MMSC adds of its own: the class digit says whose fault it is.
  if (code >= 1000 && code < 2000) return { kind: 'accepted', name: 'Success' };
  if (code >= 2000 && code < 3000) return { kind: 'rejected', name: 'Client error' };
  if (code >= 3000 && code < 4000) return { kind: 'retryable', name: 'Server Error' };
  if (code >= 4000 && code < 5000) return { kind: 'retryable', name: 'General service error' };
  return { kind: 'retryable', name: 'Unknown status' };
}

/** The stable code put in the ledger and outcomes, e.g. `MM7_2002`. */
export function mm7StatusCode(code: number): string {
  return `MM7_${code}`;
}
