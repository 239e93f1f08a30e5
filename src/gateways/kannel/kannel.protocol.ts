/**
 * Kannel's HTTP interfaces, pure: what a `/cgi-bin/sendsms` answer means for a message, what a
 * DLR callback (the `dlr-url` Kannel calls with `%d`, `%A`, `%T`…) means as a receipt, and the
 * shared secret that lets only Kannel call us back.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { commandStatusCode } from '../smpp/smpp.gateway.js';
import { parseReceiptDate, parseReceiptText, statusFromStatText, type ReceiptStatus } from '../smpp/smpp.receipt.js';

/** What a sendsms answer means for the message. */
export type SendsmsVerdict =
  | { kind: 'accepted' }
  | { kind: 'rejected' | 'retryable' | 'unknown'; code: string; message: string }
  /** Kannel refused the credentials: not this message's fault, and true of every message until the settings change. */
  | { kind: 'unauthorised'; code: string; message: string };

/**
 * What smsbox answered (gw/smsbox.c): 202 `0: Accepted for delivery` (bearerbox queued it for an
 * SMSC), 202 `3: Queued for later delivery` (no SMSC connected; bearerbox keeps it and sends it
 * later), 202 `Sent.` (`immediate-sendsms-reply`); 403 `Authorization failed for sendsms`; 403
 * `Not routable. Do not try again.`; 400 for a bad request or a denied number; 503 `Temporal
 * failure, try again later.` (bearerbox said so, e.g. its queue is full); 500 `Sending failed.`
 * (smsbox could not hand it to bearerbox).
 */
export function sendsmsVerdict(status: number, body: string): SendsmsVerdict {
  const answer = body.trim().slice(0, 200);
  if (status >= 200 && status < 300) return { kind: 'accepted' };
  if (status === 403 && /authori[sz]ation failed/i.test(answer)) {
    return { kind: 'unauthorised', code: 'KANNEL_AUTH_FAILED', message: `Kannel refused the sendsms credentials (${status} ${answer})` };
  }
  if (status === 503 || (status === 500 && /sending failed/i.test(answer))) {
    return { kind: 'retryable', code: 'KANNEL_TEMPORARY', message: `Kannel answered ${status} ${answer}` };
  }
  if (status >= 400 && status < 500) {
    return { kind: 'rejected', code: `KANNEL_HTTP_${status}`, message: `Kannel refused the message: ${status} ${answer}` };
  }
  // Another 5xx (a proxy in front of smsbox, a crash mid-request): it may have been queued.
  return { kind: 'unknown', code: `KANNEL_HTTP_${status}`, message: `Kannel answered ${status} ${answer}` };
}

/** Kannel's DLR types (the `%d` of a dlr-url); a dlr-mask is their sum (31 asks for all five). */
export const DLR_TYPE = {
  delivered: 1,
  undelivered: 2,
  /** Queued at the SMSC (SMPP ENROUTE/ACCEPTD receipts, "buffered"). */
  queuedAtSmsc: 4,
  /** The SMSC took it (submit_sm_resp OK): `%A` is `ACK/<smsc id>`. */
  acceptedBySmsc: 8,
  /** The SMSC refused it (submit_sm_resp error): `%A` is `NACK/0x0000000b/Invalid Destination Address`. */
  rejectedBySmsc: 16,
} as const;
export const DLR_MASK_ALL = 31;

export interface KannelDlr {
  type: number;
  /** `%A`: the SMSC's receipt text for types 1, 2 and 4, `ACK/…` or `NACK/…` for 8 and 16. */
  answer: string;
  /** `%T`: when Kannel made the DLR, in Unix seconds. */
  unixSeconds?: number;
}

export interface DlrReceipt {
  status: ReceiptStatus;
  errorCode: string | null;
  doneAt: Date | null;
}

const FAILED_STATS: ReadonlySet<ReceiptStatus> = new Set(['UNDELIV', 'EXPIRED', 'REJECTD', 'DELETED', 'UNKNOWN']);

/**
 * A DLR callback as a receipt; null for a type Kannel does not define (a combination, or garbage).
 * The type decides the class (delivered, failed, intermediate); the SMSC's text, when it has a
 * `stat:` of that class, names it more precisely (EXPIRED rather than UNDELIV), and its `err:`
 * and `done date:` are kept. A NACK's SMPP command_status becomes the SMPP adapter's code for it.
 */
export function dlrReceipt(dlr: KannelDlr, receiptUtcOffsetMinutes: number): DlrReceipt | null {
  const fields = parseReceiptText(dlr.answer);
  const stat = fields?.stat === undefined ? undefined : statusFromStatText(fields.stat);
  const err = fields?.err !== undefined && !/^0+$/.test(fields.err) ? fields.err : null;
  const reportedAt = dlr.unixSeconds !== undefined && dlr.unixSeconds > 0 ? new Date(dlr.unixSeconds * 1_000) : null;
  const doneAt = (fields?.doneDate === undefined ? null : parseReceiptDate(fields.doneDate, receiptUtcOffsetMinutes)) ?? reportedAt;
  switch (dlr.type) {
    case DLR_TYPE.delivered:
      return { status: 'DELIVRD', errorCode: null, doneAt };
    case DLR_TYPE.undelivered:
      return { status: stat !== undefined && FAILED_STATS.has(stat) ? stat : 'UNDELIV', errorCode: err, doneAt };
    case DLR_TYPE.queuedAtSmsc:
      return { status: 'ENROUTE', errorCode: null, doneAt: null };
    case DLR_TYPE.acceptedBySmsc:
      return { status: 'ACCEPTD', errorCode: null, doneAt: null };
    case DLR_TYPE.rejectedBySmsc:
      return { status: 'REJECTD', errorCode: nackCode(dlr.answer), doneAt: reportedAt };
    default:
      return null;
  }
}

/** `NACK/0x0000000b/Invalid Destination Address` → `ESME_0x0000000B`, as the SMPP adapter names it; other NACKs keep their reason. */
export function nackCode(answer: string): string {
  const smpp = /^NACK\/0x([0-9a-f]{1,8})\b/i.exec(answer.trim());
  if (smpp) return commandStatusCode(Number.parseInt(smpp[1]!, 16));
  const reason = /^NACK\/([^/]*)/i.exec(answer.trim())?.[1]?.trim();
  return reason ? `KANNEL_NACK_${reason.toUpperCase().replace(/[^A-Z0-9]+/g, '_').slice(0, 40)}` : 'KANNEL_NACK';
}

/**
 * The secret in a gateway's dlr-url. Kannel calls the DLR route without an API key (it has none to
 * send), so the URL itself must prove the caller: an HMAC of the gateway's name under its sendsms
 * password, which only we and the Kannel we send through (it stores the URL) ever see. Derived,
 * not stored, so there is no second secret to manage; changing the password changes it, and the
 * DLRs of messages sent before the change are then refused (see README).
 */
export function dlrToken(password: string, gateway: string): string {
  return createHmac('sha256', password).update(`quanke/kannel-dlr/${gateway}`).digest('base64url').slice(0, 32);
}

/**
 * Compares in constant time, so that the answer's timing does not reveal how much of a guess was
 * right: both sides are hashed first, which makes the lengths equal without leaking the length.
 */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Kannel's `%b` (the raw message bytes, percent-encoded) as text: UCS-2 arrives as UTF-16BE unless smsbox's `mo-recode` made it UTF-8. */
export function moText(bytes: Buffer, coding: number | undefined, charset: string | undefined): string {
  const declared = charset?.trim().toUpperCase();
  if (declared === 'UTF-16BE' || declared === 'UCS-2' || declared === 'UCS2' || (coding === 2 && declared !== 'UTF-8')) {
    // Node has no UTF-16BE decoder: swap to LE.
    const even = bytes.subarray(0, bytes.length - (bytes.length % 2));
    return Buffer.from(even).swap16().toString('utf16le');
  }
  if (declared === 'ISO-8859-1' || declared === 'LATIN1' || coding === 1) return bytes.toString('latin1');
  return bytes.toString('utf8');
}

/** Percent-decodes a query value to bytes (not to a string: `%b` may be UTF-16BE). `+` is a space, as in forms. */
export function percentDecodeBytes(value: string): Buffer {
  const chunks: Buffer[] = [];
  // Escapes become their byte; anything else (a character left unescaped) its UTF-8 bytes.
  for (const [, escape, plain] of value.matchAll(/%([0-9a-fA-F]{2})|([^%]+|%)/g)) {
    if (escape !== undefined) chunks.push(Buffer.of(Number.parseInt(escape, 16)));
    else chunks.push(Buffer.from(plain!.replaceAll('+', ' '), 'utf8'));
  }
  return Buffer.concat(chunks);
}

/** The raw (still percent-encoded) value of one query parameter of a request URL. */
export function rawQueryValue(url: string, name: string): string | undefined {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (key === name) return eq < 0 ? '' : pair.slice(eq + 1);
  }
  return undefined;
}
