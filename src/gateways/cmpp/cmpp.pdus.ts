/**
 * CMPP 2.0 and 3.0 (China Mobile Peer to Peer, the SP ↔ ISMG interface) described as data: one
 * field table per PDU serves both versions. A field present in one version only says so (`only`),
 * and a width that differs says both (`{ v2, v3 }`); `cmpp.codec.ts` is the one reader and writer
 * of these tables, so a field is changed here or nowhere.
 */

export type CmppVersion = 2 | 3;

/** A width that is the same in both versions, or differs between them. */
export type Width = number | { readonly v2: number; readonly v3: number };

export type FieldType =
  /** Unsigned big-endian integer of 1, 2 or 4 octets (a number). */
  | { readonly kind: 'uint'; readonly size: Width }
  /** Unsigned big-endian 64-bit integer (a bigint): Msg_Id. */
  | { readonly kind: 'uint64' }
  /** Fixed-width ASCII octet string, NUL-padded on the right (a string, read without the padding). */
  | { readonly kind: 'text'; readonly width: Width }
  /** Fixed-width raw octets (a Buffer): the authenticators. */
  | { readonly kind: 'octets'; readonly width: number }
  /**
   * One octet derived when writing: the number of entries of the list field `of`, or the length of
   * the variable field `of` (DestUsr_tl, Msg_Length). Not part of the body.
   */
  | { readonly kind: 'count'; readonly of: string }
  /** `count` fixed-width ASCII entries (a string[]), the count being an earlier `count` field. */
  | { readonly kind: 'textList'; readonly width: Width; readonly countedBy: string }
  /** Raw octets (a Buffer) whose length is an earlier `count` field. */
  | { readonly kind: 'variable'; readonly lengthBy: string };

export interface Field {
  /** The body property: the specification's field name in camelCase. */
  readonly name: string;
  readonly type: FieldType;
  /** Present in this version only. */
  readonly only?: CmppVersion;
}

const uint8: FieldType = { kind: 'uint', size: 1 };
const uint32: FieldType = { kind: 'uint', size: 4 };
const uint64: FieldType = { kind: 'uint64' };
const text = (width: Width): FieldType => ({ kind: 'text', width });
// Terminal ids (MSISDNs) grew from 21 to 32 octets in 3.0, which also types them (real / pseudo number).
const TERMINAL_ID: Width = { v2: 21, v3: 32 };
// Status (CONNECT_RESP) and Result (SUBMIT_RESP, DELIVER_RESP) grew from 1 to 4 octets in 3.0.
const STATUS: FieldType = { kind: 'uint', size: { v2: 1, v3: 4 } };

/** The 12-octet header of every PDU: Total_Length, Command_Id, Sequence_Id. */
export const HEADER_LENGTH = 12;

// CMPP 2.0 §7.4.2.1 / 3.0 §6.2.1
const CONNECT: readonly Field[] = [
  { name: 'sourceAddr', type: text(6) },
  { name: 'authenticatorSource', type: { kind: 'octets', width: 16 } },
  { name: 'version', type: uint8 },
  { name: 'timestamp', type: uint32 },
];

const CONNECT_RESP: readonly Field[] = [
  { name: 'status', type: STATUS },
  { name: 'authenticatorIsmg', type: { kind: 'octets', width: 16 } },
  { name: 'version', type: uint8 },
];

const SUBMIT: readonly Field[] = [
  { name: 'msgId', type: uint64 },
  { name: 'pkTotal', type: uint8 },
  { name: 'pkNumber', type: uint8 },
  { name: 'registeredDelivery', type: uint8 },
  { name: 'msgLevel', type: uint8 },
  { name: 'serviceId', type: text(10) },
  { name: 'feeUserType', type: uint8 },
  { name: 'feeTerminalId', type: text(TERMINAL_ID) },
  { name: 'feeTerminalType', type: uint8, only: 3 },
  { name: 'tpPid', type: uint8 },
  { name: 'tpUdhi', type: uint8 },
  { name: 'msgFmt', type: uint8 },
  { name: 'msgSrc', type: text(6) },
  { name: 'feeType', type: text(2) },
  { name: 'feeCode', type: text(6) },
  { name: 'validTime', type: text(17) },
  { name: 'atTime', type: text(17) },
  { name: 'srcId', type: text(21) },
  { name: 'destUsrTl', type: { kind: 'count', of: 'destTerminalIds' } },
  { name: 'destTerminalIds', type: { kind: 'textList', width: TERMINAL_ID, countedBy: 'destUsrTl' } },
  { name: 'destTerminalType', type: uint8, only: 3 },
  { name: 'msgLength', type: { kind: 'count', of: 'msgContent' } },
  { name: 'msgContent', type: { kind: 'variable', lengthBy: 'msgLength' } },
  { name: 'reserve', type: text(8), only: 2 },
  { name: 'linkId', type: text(20), only: 3 },
];

const SUBMIT_RESP: readonly Field[] = [
  { name: 'msgId', type: uint64 },
  { name: 'result', type: STATUS },
];

const DELIVER: readonly Field[] = [
  { name: 'msgId', type: uint64 },
  { name: 'destId', type: text(21) },
  { name: 'serviceId', type: text(10) },
  { name: 'tpPid', type: uint8 },
  { name: 'tpUdhi', type: uint8 },
  { name: 'msgFmt', type: uint8 },
  { name: 'srcTerminalId', type: text(TERMINAL_ID) },
  { name: 'srcTerminalType', type: uint8, only: 3 },
  { name: 'registeredDelivery', type: uint8 },
  { name: 'msgLength', type: { kind: 'count', of: 'msgContent' } },
  { name: 'msgContent', type: { kind: 'variable', lengthBy: 'msgLength' } },
  { name: 'reserve', type: text(8), only: 2 },
  { name: 'linkId', type: text(20), only: 3 },
];

const DELIVER_RESP: readonly Field[] = SUBMIT_RESP;

const ACTIVE_TEST_RESP: readonly Field[] = [{ name: 'reserved', type: uint8 }];

/**
 * The status report carried as the Msg_Content of a DELIVER with Registered_Delivery = 1:
 * 8 + 7 + 10 + 10 + 21 + 4 = 60 octets in 2.0, 71 in 3.0 (the terminal id is 32 there).
 */
export const REPORT_FIELDS: readonly Field[] = [
  { name: 'msgId', type: uint64 },
  { name: 'stat', type: text(7) },
  { name: 'submitTime', type: text(10) },
  { name: 'doneTime', type: text(10) },
  { name: 'destTerminalId', type: text(TERMINAL_ID) },
  { name: 'smscSequence', type: uint32 },
];

/** The PDUs this codec knows, by name: Command_Id and fields (an empty table is a header-only PDU). */
export const COMMANDS = {
  CONNECT: { id: 0x0000_0001, fields: CONNECT },
  CONNECT_RESP: { id: 0x8000_0001, fields: CONNECT_RESP },
  TERMINATE: { id: 0x0000_0002, fields: [] },
  TERMINATE_RESP: { id: 0x8000_0002, fields: [] },
  SUBMIT: { id: 0x0000_0004, fields: SUBMIT },
  SUBMIT_RESP: { id: 0x8000_0004, fields: SUBMIT_RESP },
  DELIVER: { id: 0x0000_0005, fields: DELIVER },
  DELIVER_RESP: { id: 0x8000_0005, fields: DELIVER_RESP },
  ACTIVE_TEST: { id: 0x0000_0008, fields: [] },
  ACTIVE_TEST_RESP: { id: 0x8000_0008, fields: ACTIVE_TEST_RESP },
} as const satisfies Record<string, { id: number; fields: readonly Field[] }>;

export type CmppCommand = keyof typeof COMMANDS;

export interface ConnectBody {
  /** The SP's enterprise code (企业代码, SP_Id). */
  sourceAddr: string;
  /** MD5(Source_Addr + 9 zero octets + shared secret + Timestamp), see `connectAuthenticator`. */
  authenticatorSource: Buffer;
  /** 0x20 for 2.0, 0x30 for 3.0. */
  version: number;
  /** MMDDHHMMSS as a decimal number. */
  timestamp: number;
}

export interface ConnectRespBody {
  /** 0 correct; 1 bad structure; 2 bad source address; 3 authentication failed; 4 version too high. */
  status: number;
  authenticatorIsmg: Buffer;
  version: number;
}

export interface SubmitBody {
  msgId: bigint;
  pkTotal: number;
  pkNumber: number;
  registeredDelivery: number;
  msgLevel: number;
  serviceId: string;
  feeUserType: number;
  feeTerminalId: string;
  /** 3.0 only. */
  feeTerminalType: number;
  tpPid: number;
  tpUdhi: number;
  /** 0 ASCII, 4 binary, 8 UCS-2, 15 GBK. */
  msgFmt: number;
  msgSrc: string;
  feeType: string;
  feeCode: string;
  validTime: string;
  atTime: string;
  srcId: string;
  destTerminalIds: string[];
  /** 3.0 only. */
  destTerminalType: number;
  msgContent: Buffer;
  /** 2.0 only. */
  reserve: string;
  /** 3.0 only. */
  linkId: string;
}

export interface SubmitRespBody {
  msgId: bigint;
  result: number;
}

export interface DeliverBody {
  msgId: bigint;
  /** The number the message was written to (our Src_Id, possibly extended). */
  destId: string;
  serviceId: string;
  tpPid: number;
  tpUdhi: number;
  msgFmt: number;
  /** The sender (MO), or the recipient of the message reported on (status report). */
  srcTerminalId: string;
  /** 3.0 only. */
  srcTerminalType: number;
  /** 1: Msg_Content is a status report (`REPORT_FIELDS`); 0: an MO message. */
  registeredDelivery: number;
  msgContent: Buffer;
  /** 2.0 only. */
  reserve: string;
  /** 3.0 only. */
  linkId: string;
}

export type DeliverRespBody = SubmitRespBody;

export interface ActiveTestRespBody {
  reserved: number;
}

export type EmptyBody = Record<string, never>;

export interface CmppBodies {
  CONNECT: ConnectBody;
  CONNECT_RESP: ConnectRespBody;
  TERMINATE: EmptyBody;
  TERMINATE_RESP: EmptyBody;
  SUBMIT: SubmitBody;
  SUBMIT_RESP: SubmitRespBody;
  DELIVER: DeliverBody;
  DELIVER_RESP: DeliverRespBody;
  ACTIVE_TEST: EmptyBody;
  ACTIVE_TEST_RESP: ActiveTestRespBody;
}

export interface ReportBody {
  /** The Msg_Id the SUBMIT_RESP gave. */
  msgId: bigint;
  /** DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, or an operator code such as MK:0005. */
  stat: string;
  /** YYMMDDHHMM, ISMG local time. */
  submitTime: string;
  doneTime: string;
  destTerminalId: string;
  smscSequence: number;
}

/** A decoded or to-be-encoded PDU. */
export type CmppPdu = { [C in CmppCommand]: { command: C; sequenceId: number; body: CmppBodies[C] } }[CmppCommand];
export type CmppPduOf<C extends CmppCommand> = Extract<CmppPdu, { command: C }>;

/** The Version octet of CONNECT: the major version in the high nibble. */
export function versionOctet(version: CmppVersion): number {
  return version === 3 ? 0x30 : 0x20;
}
