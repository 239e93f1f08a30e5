import { parseReceiptDate, statusFromStatText, type ReceiptStatus } from '../smpp/smpp.receipt.js';
import type { ReportBody } from './cmpp.pdus.js';

/**
 * CMPP message ids and status reports, pure.
 *
 * Msg_Id is 64 bits (month 4, day 5, hour 5, minute 6, second 6, ISMG code 22, sequence 16), the
 * same octets in SUBMIT_RESP and in the report, so it is read as one unsigned number and spelled
 * the way every other gateway's id is spelled (lower-case hex without leading zeros, as
 * `normaliseMessageId` does): receipts then match on a plain string compare.
 */

/** The canonical spelling of a Msg_Id. */
export function messageIdString(msgId: bigint): string {
  return msgId.toString(16);
}

export interface MessageIdParts {
  at: Date;
  /** The ISMG's code, 22 bits. */
  ismgCode: number;
  /** 16 bits. */
  sequence: number;
}

/** Composes a Msg_Id as an ISMG does; the time fields are read in UTC shifted by `utcOffsetMinutes`. */
export function composeMessageId({ at, ismgCode, sequence }: MessageIdParts, utcOffsetMinutes: number): bigint {
  const local = new Date(at.getTime() + utcOffsetMinutes * 60_000);
  let time = BigInt(local.getUTCMonth() + 1);
  time = (time << 5n) | BigInt(local.getUTCDate());
  time = (time << 5n) | BigInt(local.getUTCHours());
  time = (time << 6n) | BigInt(local.getUTCMinutes());
  time = (time << 6n) | BigInt(local.getUTCSeconds());
  return (time << 38n) | (BigInt(ismgCode & 0x3f_ffff) << 16n) | BigInt(sequence & 0xffff);
}

export interface CmppReceipt {
  /** Canonical (`messageIdString`). */
  messageId: string;
  status: ReceiptStatus;
  /** Null when delivered or when the Stat is one of the standard words; else the Stat as written (MK:0005, …). */
  errorCode: string | null;
  doneAt: Date | null;
}

/**
 * A status report in the terms of `GatewayReceipt`. A Stat that is not a standard word is an
 * operator's failure code (`MK:0005`, `DB:0008`, …): the message was not delivered, and the code
 * is kept as the error.
 */
export function receiptFromReport(report: ReportBody, utcOffsetMinutes: number): CmppReceipt {
  const stat = report.stat.trim();
  const known = statusFromStatText(stat);
  return {
    messageId: messageIdString(report.msgId),
    status: known ?? 'UNDELIV',
    errorCode: known === undefined ? stat || null : null,
    doneAt: parseReceiptDate(report.doneTime.trim(), utcOffsetMinutes),
  };
}
