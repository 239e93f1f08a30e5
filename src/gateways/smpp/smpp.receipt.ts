/**
 * SMPP delivery receipts, pure: the receipt text of SMPP 3.4 Appendix B, the message_state TLV,
 * and the one canonical spelling of a message id.
 */

/**
 * How an SMSC spells a message id in one place. SMSCs disagree with themselves: a common quirk
 * (Kannel's `msg-id-type` exists for it) answers submit_sm_resp with the id in hex and writes the
 * same id in decimal in the receipt text. `opaque` is for ids that are not numbers at all.
 */
export type MessageIdFormat = 'hex' | 'decimal' | 'opaque';

/**
 * The canonical message id: the number in lower-case hex without leading zeros ('0' for zero).
 * `hex` ids are lower-cased and stripped; `decimal` ids are converted to hex. An id that does not
 * match its announced format (or an `opaque` one) is trimmed, lower-cased and stripped of leading
 * zeros only, so that at least the same spelling always yields the same key.
 */
export function normaliseMessageId(id: string, format: MessageIdFormat): string {
  const trimmed = id.trim();
  if (format === 'decimal' && /^[0-9]+$/.test(trimmed)) return BigInt(trimmed).toString(16);
  const lower = trimmed.toLowerCase();
  if (format === 'hex' && /^[0-9a-f]+$/.test(lower)) return lower.replace(/^0+(?=.)/, '');
  return lower.replace(/^0+(?=.)/, '');
}

/** The final and intermediate states a receipt can carry, in their short SMPP 3.4 spelling. */
export type ReceiptStatus = 'DELIVRD' | 'UNDELIV' | 'EXPIRED' | 'REJECTD' | 'DELETED' | 'ACCEPTD' | 'ENROUTE' | 'UNKNOWN';

// SMPP 3.4 §5.3.2.35 message_state values.
const MESSAGE_STATES: Readonly<Record<number, ReceiptStatus>> = {
  1: 'ENROUTE',
  2: 'DELIVRD',
  3: 'EXPIRED',
  4: 'DELETED',
  5: 'UNDELIV',
  6: 'ACCEPTD',
  7: 'UNKNOWN',
  8: 'REJECTD',
};

// Some SMSCs write the long names in the text.
const STAT_SPELLINGS: Readonly<Record<string, ReceiptStatus>> = {
  DELIVRD: 'DELIVRD',
  DELIVERED: 'DELIVRD',
  UNDELIV: 'UNDELIV',
  UNDELIVERABLE: 'UNDELIV',
  EXPIRED: 'EXPIRED',
  REJECTD: 'REJECTD',
  REJECTED: 'REJECTD',
  DELETED: 'DELETED',
  ACCEPTD: 'ACCEPTD',
  ACCEPTED: 'ACCEPTD',
  ENROUTE: 'ENROUTE',
  UNKNOWN: 'UNKNOWN',
};

export function statusFromMessageState(state: number): ReceiptStatus | undefined {
  return MESSAGE_STATES[state];
}

export function statusFromStatText(stat: string): ReceiptStatus | undefined {
  return STAT_SPELLINGS[stat.trim().toUpperCase()];
}

/** The fields of `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…`, as written. */
export interface ReceiptText {
  id?: string;
  sub?: string;
  dlvrd?: string;
  submitDate?: string;
  doneDate?: string;
  stat?: string;
  err?: string;
  text?: string;
}

const RECEIPT_FIELDS: ReadonlyArray<[keyof ReceiptText, RegExp]> = [
  ['id', /(?:^|\s)id:(\S+)/i],
  ['sub', /(?:^|\s)sub:(\S+)/i],
  ['dlvrd', /(?:^|\s)dlvrd:(\S+)/i],
  ['submitDate', /(?:^|\s)submit[ _]date:(\d+)/i],
  ['doneDate', /(?:^|\s)done[ _]date:(\d+)/i],
  ['stat', /(?:^|\s)stat:(\S+)/i],
  ['err', /(?:^|\s)err:(\S+)/i],
  ['text', /(?:^|\s)text:(.*)$/is],
];

/** Reads the receipt text; null when it has neither an id nor a stat (it is no receipt). */
export function parseReceiptText(text: string): ReceiptText | null {
  const fields: ReceiptText = {};
  for (const [key, pattern] of RECEIPT_FIELDS) {
    const value = pattern.exec(text)?.[1];
    if (value !== undefined) fields[key] = value;
  }
  return fields.id === undefined && fields.stat === undefined ? null : fields;
}

/**
 * A receipt date `YYMMDDhhmm` (SMPP 3.4) or `YYMMDDhhmmss` (common), written in the SMSC's local
 * time, which is `utcOffsetMinutes` ahead of UTC (480 for China). Null when it is not a valid date.
 */
export function parseReceiptDate(value: string, utcOffsetMinutes: number): Date | null {
  const match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/.exec(value);
  if (!match) return null;
  const [yy, mo, dd, hh, mi] = match.slice(1, 6).map(Number) as [number, number, number, number, number];
  const ss = match[6] === undefined ? 0 : Number(match[6]);
  if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59) return null;
  const utc = Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss);
  return new Date(utc - utcOffsetMinutes * 60_000);
}

export interface ParsedReceipt {
  /** Canonical (see `normaliseMessageId`). */
  messageId: string;
  status: ReceiptStatus;
  errorCode: string | null;
  doneAt: Date | null;
}

export interface ReceiptSources {
  /** The receipted_message_id TLV: SMPP 3.4 says it is the id exactly as submit_sm_resp gave it. */
  receiptedMessageId?: string;
  /** The message_state TLV. */
  messageState?: number;
  /** The short_message (or message_payload) text. */
  text: string;
}

export interface ReceiptIdFormats {
  submit: MessageIdFormat;
  receipt: MessageIdFormat;
}

/**
 * One receipt from what a deliver_sm carries: the TLVs win over the text, since they are typed
 * and the TLV id is spelled as the submit response spelled it. Null when there is no id at all.
 */
export function parseReceipt(sources: ReceiptSources, formats: ReceiptIdFormats, utcOffsetMinutes: number): ParsedReceipt | null {
  const fields = parseReceiptText(sources.text) ?? {};
  const tlvId = sources.receiptedMessageId?.trim();
  const messageId = tlvId
    ? normaliseMessageId(tlvId, formats.submit)
    : fields.id !== undefined
      ? normaliseMessageId(fields.id, formats.receipt)
      : null;
  if (messageId === null) return null;
  const status =
    (sources.messageState === undefined ? undefined : statusFromMessageState(sources.messageState)) ??
    (fields.stat === undefined ? undefined : statusFromStatText(fields.stat)) ??
    'UNKNOWN';
  // err:000 is "no error"; any other value is the SMSC's own code, kept as written.
  const errorCode = fields.err !== undefined && !/^0+$/.test(fields.err) ? fields.err : null;
  const doneAt = fields.doneDate === undefined ? null : parseReceiptDate(fields.doneDate, utcOffsetMinutes);
  return { messageId, status, errorCode, doneAt };
}

/** The receipt text an SMSC writes (used by the simulator), ids and dates already spelled. */
export function formatReceiptText(fields: {
  id: string;
  submitDate: string;
  doneDate: string;
  stat: ReceiptStatus;
  err: string;
  text?: string;
}): string {
  const delivered = fields.stat === 'DELIVRD' ? '001' : '000';
  return (
    `id:${fields.id} sub:001 dlvrd:${delivered} submit date:${fields.submitDate} done date:${fields.doneDate} ` +
    `stat:${fields.stat} err:${fields.err} text:${(fields.text ?? '').slice(0, 20)}`
  );
}

/** `YYMMDDhhmm` in UTC shifted by `utcOffsetMinutes`, as an SMSC writes receipt dates. */
export function formatReceiptDate(date: Date, utcOffsetMinutes: number): string {
  const local = new Date(date.getTime() + utcOffsetMinutes * 60_000);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    two(local.getUTCFullYear() % 100) +
    two(local.getUTCMonth() + 1) +
    two(local.getUTCDate()) +
    two(local.getUTCHours()) +
    two(local.getUTCMinutes())
  );
}
