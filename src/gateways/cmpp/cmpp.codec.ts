import type { Socket } from 'node:net';
import {
  COMMANDS,
  HEADER_LENGTH,
  REPORT_FIELDS,
  type CmppBodies,
  type CmppCommand,
  type CmppPdu,
  type CmppVersion,
  type Field,
  type FieldType,
  type ReportBody,
  type Width,
} from './cmpp.pdus.js';

/**
 * The one reader and writer of the field tables in `cmpp.pdus.ts`: big-endian integers, fixed-width
 * NUL-padded ASCII, and the two derived counts (DestUsr_tl, Msg_Length). Plus frame reassembly:
 * TCP hands over bytes, not PDUs.
 */

/** A PDU that cannot be written (a value too long for its field) or read (too short, unknown command). */
export class CmppCodecError extends Error {
  override readonly name = 'CmppCodecError';
}

/** Larger than any PDU of CMPP (a SUBMIT to 100 terminals is under 3.5 kB): a longer Total_Length is a broken stream. */
export const MAX_PDU_LENGTH = 16 * 1_024;

const COMMAND_BY_ID: ReadonlyMap<number, CmppCommand> = new Map(
  (Object.keys(COMMANDS) as CmppCommand[]).map((command) => [COMMANDS[command].id, command]),
);

export function commandName(commandId: number): CmppCommand | undefined {
  return COMMAND_BY_ID.get(commandId);
}

function widthOf(width: Width, version: CmppVersion): number {
  return typeof width === 'number' ? width : version === 3 ? width.v3 : width.v2;
}

function inVersion(field: Field, version: CmppVersion): boolean {
  return field.only === undefined || field.only === version;
}

type Values = Record<string, unknown>;

function zeroValue(type: FieldType): unknown {
  switch (type.kind) {
    case 'uint':
      return 0;
    case 'uint64':
      return 0n;
    case 'text':
      return '';
    case 'octets':
      return Buffer.alloc(type.width);
    case 'textList':
      return [];
    case 'variable':
      return Buffer.alloc(0);
    case 'count':
      return undefined;
  }
}

/** A complete body of the command: every field of every version, `values` over zero values. */
export function bodyOf<C extends CmppCommand>(command: C, values: Partial<CmppBodies[C]> = {}): CmppBodies[C] {
  const body: Values = {};
  for (const field of COMMANDS[command].fields) {
    if (field.type.kind !== 'count') body[field.name] = zeroValue(field.type);
  }
  return { ...body, ...values } as CmppBodies[C];
}

function fieldLength(field: Field, values: Values, version: CmppVersion): number {
  const { type } = field;
  switch (type.kind) {
    case 'uint':
      return widthOf(type.size, version);
    case 'uint64':
      return 8;
    case 'text':
      return widthOf(type.width, version);
    case 'octets':
      return type.width;
    case 'count':
      return 1;
    case 'textList':
      return widthOf(type.width, version) * listValue(field, values).length;
    case 'variable':
      return bufferValue(field, values).length;
  }
}

function listValue(field: Field, values: Values): string[] {
  const value = values[field.name];
  if (!Array.isArray(value)) throw new CmppCodecError(`${field.name}: expected a list of strings`);
  return value as string[];
}

function bufferValue(field: Field, values: Values): Buffer {
  const value = values[field.name];
  if (!Buffer.isBuffer(value)) throw new CmppCodecError(`${field.name}: expected octets`);
  return value;
}

function writeText(target: Buffer, offset: number, value: unknown, width: number, name: string): void {
  if (typeof value !== 'string') throw new CmppCodecError(`${name}: expected a string`);
  if (value.length > width) throw new CmppCodecError(`${name}: ${value.length} characters do not fit ${width} octets`);
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code > 0x7f) throw new CmppCodecError(`${name}: only ASCII fits a fixed-width field`);
    target[offset + i] = code;
  }
  target.fill(0, offset + value.length, offset + width);
}

function writeUint(target: Buffer, offset: number, value: unknown, size: number, name: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= 2 ** (8 * size)) {
    throw new CmppCodecError(`${name}: expected an unsigned integer of ${size} octet(s)`);
  }
  target.writeUIntBE(value, offset, size);
}

/** Writes the fields of one version; returns the octets. */
export function encodeFields(fields: readonly Field[], values: Values, version: CmppVersion, headroom = 0): Buffer {
  let length = headroom;
  for (const field of fields) if (inVersion(field, version)) length += fieldLength(field, values, version);
  const target = Buffer.allocUnsafe(length);
  let offset = headroom;
  for (const field of fields) {
    if (!inVersion(field, version)) continue;
    const { type, name } = field;
    switch (type.kind) {
      case 'uint':
        writeUint(target, offset, values[name], widthOf(type.size, version), name);
        break;
      case 'uint64': {
        const value = values[name];
        if (typeof value !== 'bigint' || value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new CmppCodecError(`${name}: expected an unsigned 64-bit bigint`);
        target.writeBigUInt64BE(value, offset);
        break;
      }
      case 'text':
        writeText(target, offset, values[name], widthOf(type.width, version), name);
        break;
      case 'octets': {
        const value = bufferValue(field, values);
        if (value.length !== type.width) throw new CmppCodecError(`${name}: expected exactly ${type.width} octets`);
        value.copy(target, offset);
        break;
      }
      case 'count': {
        const counted = values[type.of];
        const count = Array.isArray(counted) ? counted.length : Buffer.isBuffer(counted) ? counted.length : -1;
        writeUint(target, offset, count, 1, `${name} (of ${type.of})`);
        break;
      }
      case 'textList': {
        const width = widthOf(type.width, version);
        for (const [index, entry] of listValue(field, values).entries()) writeText(target, offset + index * width, entry, width, `${name}[${index}]`);
        break;
      }
      case 'variable':
        bufferValue(field, values).copy(target, offset);
        break;
    }
    offset += fieldLength(field, values, version);
  }
  return target;
}

function readText(source: Buffer, offset: number, width: number): string {
  let end = offset;
  const limit = offset + width;
  while (end < limit && source[end] !== 0) end += 1;
  return source.toString('latin1', offset, end);
}

/** Reads the fields of one version from `source[offset…]`; fields of the other version get zero values. */
export function decodeFields(fields: readonly Field[], source: Buffer, version: CmppVersion, offset = 0): Values {
  const values: Values = {};
  const counts = new Map<string, number>();
  let at = offset;
  const need = (octets: number, name: string): void => {
    if (at + octets > source.length) throw new CmppCodecError(`${name}: the PDU ends ${at + octets - source.length} octet(s) early`);
  };
  for (const field of fields) {
    const { type, name } = field;
    if (!inVersion(field, version)) {
      if (type.kind !== 'count') values[name] = zeroValue(type);
      continue;
    }
    switch (type.kind) {
      case 'uint': {
        const size = widthOf(type.size, version);
        need(size, name);
        values[name] = source.readUIntBE(at, size);
        at += size;
        break;
      }
      case 'uint64':
        need(8, name);
        values[name] = source.readBigUInt64BE(at);
        at += 8;
        break;
      case 'text': {
        const width = widthOf(type.width, version);
        need(width, name);
        values[name] = readText(source, at, width);
        at += width;
        break;
      }
      case 'octets':
        need(type.width, name);
        values[name] = Buffer.from(source.subarray(at, at + type.width));
        at += type.width;
        break;
      case 'count':
        need(1, name);
        counts.set(name, source[at]!);
        at += 1;
        break;
      case 'textList': {
        const width = widthOf(type.width, version);
        const count = counts.get(type.countedBy) ?? 0;
        need(width * count, name);
        values[name] = Array.from({ length: count }, (_, index) => readText(source, at + index * width, width));
        at += width * count;
        break;
      }
      case 'variable': {
        const length = counts.get(type.lengthBy) ?? 0;
        need(length, name);
        values[name] = Buffer.from(source.subarray(at, at + length));
        at += length;
        break;
      }
    }
  }
  // Octets after the last field are tolerated: some ISMGs pad, and nothing we need is lost.
  return values;
}

/** One whole PDU, header included. */
export function encodePdu(pdu: CmppPdu, version: CmppVersion): Buffer {
  const { id, fields } = COMMANDS[pdu.command];
  const frame = encodeFields(fields, pdu.body as unknown as Values, version, HEADER_LENGTH);
  frame.writeUInt32BE(frame.length, 0);
  frame.writeUInt32BE(id, 4);
  frame.writeUInt32BE(pdu.sequenceId >>> 0, 8);
  return frame;
}

export interface CmppHeader {
  totalLength: number;
  commandId: number;
  sequenceId: number;
}

export function decodeHeader(frame: Buffer): CmppHeader {
  if (frame.length < HEADER_LENGTH) throw new CmppCodecError(`a PDU is at least ${HEADER_LENGTH} octets, got ${frame.length}`);
  return { totalLength: frame.readUInt32BE(0), commandId: frame.readUInt32BE(4), sequenceId: frame.readUInt32BE(8) };
}

/** One whole PDU (a frame from `CmppFrameReader`); throws CmppCodecError for an unknown command or a short body. */
export function decodePdu(frame: Buffer, version: CmppVersion): CmppPdu {
  const header = decodeHeader(frame);
  const command = commandName(header.commandId);
  if (command === undefined) throw new CmppCodecError(`unknown Command_Id 0x${header.commandId.toString(16).padStart(8, '0')}`);
  const body = decodeFields(COMMANDS[command].fields, frame.subarray(0, Math.min(frame.length, header.totalLength)), version, HEADER_LENGTH);
  return { command, sequenceId: header.sequenceId, body } as CmppPdu;
}

/** The Msg_Content of a status report: 60 octets in 2.0, 71 in 3.0. */
export function encodeReport(report: ReportBody, version: CmppVersion): Buffer {
  return encodeFields(REPORT_FIELDS, report as unknown as Values, version);
}

export function decodeReport(content: Buffer, version: CmppVersion): ReportBody {
  return decodeFields(REPORT_FIELDS, content, version) as unknown as ReportBody;
}

/**
 * Cuts a TCP byte stream into PDUs by their Total_Length: a chunk may hold part of a PDU, or
 * several. Throws CmppCodecError on a length no PDU can have (the stream is broken: reconnect).
 */
export class CmppFrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    let buffer = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0);
      if (length < HEADER_LENGTH || length > MAX_PDU_LENGTH) {
        this.pending = Buffer.alloc(0);
        throw new CmppCodecError(`Total_Length ${length} is outside ${HEADER_LENGTH}–${MAX_PDU_LENGTH}`);
      }
      if (buffer.length < length) break;
      frames.push(buffer.subarray(0, length));
      buffer = buffer.subarray(length);
    }
    // Copied so that a large chunk is not kept alive by a few leftover octets.
    this.pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
    return frames;
  }

  /** Octets of an incomplete PDU waiting for the rest. */
  get buffered(): number {
    return this.pending.length;
  }
}

/**
 * Writes a PDU, coalescing every PDU written in the same tick into one socket write: with the
 * window full, answers arrive in bursts and each would otherwise cost a syscall and a packet.
 */
export function writeCoalesced(socket: Socket, frame: Buffer): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(frame);
}
