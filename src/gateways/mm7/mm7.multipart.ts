import { randomBytes } from 'node:crypto';
import { MIMEType } from 'node:util';
import { MultipartParseError, parseMultipart } from '@remix-run/multipart-parser';

/** One MIME body part: its headers (names as written, values without CR or LF) and its bytes. */
export interface MimePart {
  headers: Readonly<Record<string, string>>;
  body: Uint8Array;
}

/** A parsed part: headers keyed by lower-case name, the body with any base64 transfer encoding undone. */
export interface ParsedPart {
  headers: Readonly<Record<string, string | undefined>>;
  contentType: MIMEType | null;
  /** The Content-ID without its angle brackets, as `cid:` references name it. */
  contentId: string | null;
  body: Buffer;
}

export interface MultipartRelated {
  /** The Content-Type header value, boundary, type and start included. */
  contentType: string;
  body: Buffer;
}

export interface ParsedMultipartRelated {
  /** The `start` part (the first one when `start` is not given). */
  root: ParsedPart;
  parts: ParsedPart[];
}

const CRLF = '\r\n';
// No CR, LF or NUL: a header value carrying one would start a header (or a part) of its own.
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;
const HEADER_NAME = /^[A-Za-z0-9-]+$/;
// Parts bigger than this are refused when parsing: an MMS is limited to a few hundred KB anyway.
const MAX_PART_BYTES = 4 * 1024 * 1024;
const MAX_PARTS = 100;

/** A fresh boundary: random, so it cannot occur in a body by accident (RFC 2046 §5.1.1 allows 70 characters). */
export function newBoundary(): string {
  return `=_quanke_${randomBytes(18).toString('base64url')}`;
}

/**
 * Builds a `multipart/related` body (RFC 2387) from parts in order; the root is the part whose
 * Content-ID is `start`. Bodies go in as bytes (binary transfer: HTTP needs no 7-bit armour), so
 * only a boundary that occurs inside a body could break the framing, and a random one does not.
 */
export function buildMultipartRelated(parts: readonly MimePart[], options: { type: string; start: string; boundary?: string }): MultipartRelated {
  if (parts.length === 0) throw new Error('a multipart body needs at least one part');
  const boundary = options.boundary ?? newBoundary();
  const delimiter = Buffer.from(`--${boundary}`);
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(delimiter, Buffer.from(CRLF));
    for (const [name, value] of Object.entries(part.headers)) {
      if (!HEADER_NAME.test(name)) throw new Error(`not a MIME header name: ${JSON.stringify(name)}`);
      if (UNSAFE_HEADER_VALUE.test(value)) throw new Error(`the ${name} header value holds a line break`);
      chunks.push(Buffer.from(`${name}: ${value}${CRLF}`));
    }
    const body = Buffer.from(part.body.buffer, part.body.byteOffset, part.body.byteLength);
    if (body.includes(delimiter)) throw new Error('a part contains the boundary');
    chunks.push(Buffer.from(CRLF), body, Buffer.from(CRLF));
  }
  chunks.push(delimiter, Buffer.from(`--${CRLF}`));
  const contentType = new MIMEType('multipart/related');
  contentType.params.set('boundary', boundary);
  contentType.params.set('type', options.type);
  contentType.params.set('start', `<${options.start}>`);
  return { contentType: contentType.toString(), body: Buffer.concat(chunks) };
}

/** The Content-Type, or null when it is missing or not a media type. */
export function parseContentType(value: string | undefined): MIMEType | null {
  if (!value) return null;
  try {
    return new MIMEType(value);
  } catch {
    return null;
  }
}

/** Thrown for a body that is not the multipart it claims to be; the message says why, never what it held. */
export class MalformedMultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMultipartError';
  }
}

/** Parses a `multipart/*` body (any subtype; nested parts are left as bytes for another call). */
export function parseMultipartBody(contentType: MIMEType, body: Uint8Array): ParsedPart[] {
  if (contentType.type !== 'multipart') throw new MalformedMultipartError(`${contentType.essence} is not multipart`);
  const boundary = contentType.params.get('boundary');
  if (!boundary) throw new MalformedMultipartError('the multipart Content-Type has no boundary');
  const parts: ParsedPart[] = [];
  try {
    for (const part of parseMultipart(body, { boundary, maxFileSize: MAX_PART_BYTES, maxParts: MAX_PARTS, maxTotalSize: MAX_PART_BYTES * 2 })) {
      const headers = part.headers;
      const raw = Buffer.from(part.bytes);
      const encoding = headers['content-transfer-encoding']?.trim().toLowerCase();
      // Binary, 8bit and 7bit need nothing; some MMSCs still armour media in base64.
      const decoded = encoding === 'base64' ? Buffer.from(raw.toString('latin1'), 'base64') : raw;
      parts.push({ headers, contentType: parseContentType(headers['content-type']), contentId: bareContentId(headers['content-id']), body: decoded });
    }
  } catch (error) {
    if (error instanceof MultipartParseError) throw new MalformedMultipartError(`the multipart body is malformed: ${error.message}`);
    throw error;
  }
  if (parts.length === 0) throw new MalformedMultipartError('the multipart body has no parts');
  return parts;
}

/** Parses a `multipart/related` body and finds its root (RFC 2387: the `start` part, else the first). */
export function parseMultipartRelated(contentTypeHeader: string | undefined, body: Uint8Array): ParsedMultipartRelated {
  const contentType = parseContentType(contentTypeHeader);
  if (!contentType) throw new MalformedMultipartError('no Content-Type');
  const parts = parseMultipartBody(contentType, body);
  const start = bareContentId(contentType.params.get('start') ?? undefined);
  const root = start === null ? parts[0]! : parts.find((part) => part.contentId === start);
  if (!root) throw new MalformedMultipartError(`no part has the start Content-ID <${start}>`);
  return { root, parts };
}

/** `<abc@x>` → `abc@x`; also takes a `cid:` URL (RFC 2392), percent-decoded. */
export function bareContentId(value: string | undefined | null): string | null {
  if (value === undefined || value === null) return null;
  let id = value.trim();
  if (id.toLowerCase().startsWith('cid:')) {
    try {
      id = decodeURIComponent(id.slice(4));
    } catch {
      id = id.slice(4);
    }
  }
  if (id.startsWith('<') && id.endsWith('>')) id = id.slice(1, -1);
  return id === '' ? null : id;
}
