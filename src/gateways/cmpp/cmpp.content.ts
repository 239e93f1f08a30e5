import { encodeSms, type EncodedSms } from '../sms-encoding.js';

/**
 * Texts as CMPP carries them: Msg_Fmt, and for long messages TP_udhi = 1 with the 6-octet UDH
 * (05 00 03 reference total sequence) at the start of each part's Msg_Content.
 */

export const MSG_FMT_ASCII = 0;
export const MSG_FMT_BINARY = 4;
export const MSG_FMT_UCS2 = 8;
export const MSG_FMT_GBK = 15;

export interface ContentPart {
  msgFmt: number;
  tpUdhi: 0 | 1;
  pkTotal: number;
  pkNumber: number;
  content: Buffer;
  /** The part's text, for the simulator's and the tests' bookkeeping. */
  text: string;
}

// Msg_Fmt 0 is ASCII: a GSM 03.38 text with a character outside ASCII (é, £, €) goes as UCS-2.
const ASCII_ONLY = /^[\x00-\x7f]*$/;

// Long UCS-2 messages are cut as `encodeSms` cuts them (67 code units a part), so the part count
// the campaign preview shows is the count sent.
function ucs2Parts(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (const char of text) {
    if (current.length + char.length > 67) {
      parts.push(current);
      current = '';
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

function partsOf(encoded: EncodedSms, text: string): { msgFmt: number; parts: string[] } {
  if (encoded.encoding === 'GSM7' && ASCII_ONLY.test(text)) return { msgFmt: MSG_FMT_ASCII, parts: encoded.parts };
  if (encoded.encoding === 'UCS2') return { msgFmt: MSG_FMT_UCS2, parts: encoded.parts };
  return { msgFmt: MSG_FMT_UCS2, parts: text.length <= 70 ? [text] : ucs2Parts(text) };
}

function encodeText(text: string, msgFmt: number): Buffer {
  return msgFmt === MSG_FMT_UCS2 ? Buffer.from(text, 'utf16le').swap16() : Buffer.from(text, 'latin1');
}

/** The parts of `text` as SUBMIT fields; `reference` (0–255) ties the parts of a long message together. */
export function contentParts(text: string, reference: number): ContentPart[] {
  const { msgFmt, parts } = partsOf(encodeSms(text), text);
  const total = parts.length;
  return parts.map((part, index) => {
    const body = encodeText(part, msgFmt);
    const content = total === 1 ? body : Buffer.concat([Buffer.from([0x05, 0x00, 0x03, reference & 0xff, total, index + 1]), body]);
    return { msgFmt, tpUdhi: total === 1 ? 0 : 1, pkTotal: total, pkNumber: index + 1, content, text: part };
  });
}

/** How many parts `contentParts` makes of the text. */
export function contentPartCount(text: string): number {
  return partsOf(encodeSms(text), text).parts.length;
}

export interface DecodedContent {
  text: string;
  /** The concatenation IE of the UDH, when the content is one part of a long message. */
  concatenation: { reference: number; total: number; sequence: number } | null;
}

let gbkDecoder: TextDecoder | undefined;

function decodeText(octets: Buffer, msgFmt: number): string {
  switch (msgFmt) {
    case MSG_FMT_UCS2:
      return Buffer.from(octets.subarray(0, octets.length - (octets.length % 2))).swap16().toString('utf16le');
    case MSG_FMT_GBK:
      gbkDecoder ??= new TextDecoder('gbk');
      return gbkDecoder.decode(octets);
    default:
      return octets.toString('latin1');
  }
}

/** The text of a Msg_Content (MO or SUBMIT), the UDH read and removed when TP_udhi is set. */
export function decodeContent(content: Buffer, msgFmt: number, tpUdhi: number): DecodedContent {
  if (tpUdhi !== 1 || content.length === 0) return { text: decodeText(content, msgFmt), concatenation: null };
  const udhLength = content[0]! + 1;
  const udh = content.subarray(1, udhLength);
  let concatenation: DecodedContent['concatenation'] = null;
  for (let at = 0; at + 1 < udh.length; at += 2 + udh[at + 1]!) {
    const iei = udh[at]!;
    const data = udh.subarray(at + 2, at + 2 + udh[at + 1]!);
    if (iei === 0x00 && data.length === 3) concatenation = { reference: data[0]!, total: data[1]!, sequence: data[2]! };
    if (iei === 0x08 && data.length === 4) concatenation = { reference: data.readUInt16BE(0), total: data[2]!, sequence: data[3]! };
  }
  return { text: decodeText(content.subarray(udhLength), msgFmt), concatenation };
}
