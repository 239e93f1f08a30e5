/**
 * The contract every gateway adapter (SMPP, and later CMPP, Kannel, MM7) keeps with the send
 * pipeline. Outcomes are values, never exceptions (Dittofeed's retry contract): a worker decides
 * per message what a `retryable` or `unknown` answer means for the ledger.
 */

/** One message to submit: `ref` is the caller's key (the ledger row) echoed in the outcome. */
export interface OutboundMessage {
  ref: string;
  msisdn: string;
  /** The whole text as sent (signature + body + opt-out suffix); the adapter splits it into parts. */
  text: string;
  /**
   * An MMS instead of a text: only an MMS adapter (MM7) sends it, and it refuses a message without
   * one; SMS adapters never see it (a campaign's channel must match its gateway's protocol).
   * `text` then holds the text parts joined, for logs and previews.
   */
  mms?: OutboundMms;
}

/** An MMS as sent: a subject and its slides in order, each a text (UTF-8) or an image. */
export interface OutboundMms {
  subject: string;
  parts: ReadonlyArray<{ type: 'text'; text: string } | { type: 'image'; contentType: 'image/jpeg' | 'image/png' | 'image/gif'; content: Uint8Array }>;
}

export type SubmitOutcome =
  /** The gateway took every part; one gateway id per part, in part order. */
  | { kind: 'accepted'; ref: string; gatewayMessageIds: string[] }
  /** The gateway refused it for good (bad number, barred, …): never retry. */
  | { kind: 'rejected'; ref: string; code: string; message: string }
  /** Not taken, and certainly not sent (throttled, queue full, not connected): safe to submit again later. */
  | { kind: 'retryable'; ref: string; code: string; message: string }
  /**
   * Sent, but no answer came (response timeout, connection lost with the submit outstanding): it
   * may or may not have been taken. Never resubmitted blindly.
   */
  | { kind: 'unknown'; ref: string; code: string; message: string };

/** A delivery receipt as the gateway reported it, before it is matched to the ledger. */
export interface GatewayReceipt {
  gateway: string;
  /** Normalised (see `normaliseMessageId`) so that it equals the id the submit response gave. */
  gatewayMessageId: string;
  /** SMPP-style final or intermediate state: DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, ACCEPTD, ENROUTE, UNKNOWN. */
  status: string;
  errorCode: string | null;
  doneAt: Date | null;
  receivedAt: Date;
}

/** A mobile-originated message (上行): a customer's reply. */
export interface MoMessage {
  gateway: string;
  msisdn: string;
  /** The number the customer wrote to (our source address, possibly with an extension). */
  to: string;
  text: string;
  receivedAt: Date;
}

export type GatewayStatus = { status: 'connected' | 'connecting' | 'down'; lastError?: string; consecutiveFailures: number };

export interface GatewayEvents {
  receipt(receipt: GatewayReceipt): void;
  mo(message: MoMessage): void;
}

export interface Gateway {
  readonly name: string;
  /** Submits a batch; resolves with one outcome per message, in any order, never rejects. */
  submit(batch: readonly OutboundMessage[]): Promise<SubmitOutcome[]>;
  status(): GatewayStatus;
  /** Receipts and MO messages as they arrive (the adapter keeps no backlog of its own). */
  on<E extends keyof GatewayEvents>(event: E, listener: GatewayEvents[E]): void;
  close(): Promise<void>;
}
