import type { Catalog } from '../catalog/catalog.js';
import type { OutboundMms } from '../gateways/gateway.js';
import type { FieldProblem } from '../http/errors.js';
import type { MmsImageType, MmsMessage } from './campaign.schemas.js';
import { placeholdersOf, renderTemplate, type SmsMessage } from './message.js';

export type { MmsMessage } from './campaign.schemas.js';

/** An MMS campaign's message (`{subject, parts}`) rather than an SMS one (`{text, …}`). */
export function isMmsMessage(message: SmsMessage | MmsMessage): message is MmsMessage {
  return 'parts' in message;
}

/** The customers columns a message reads: the SMS text, or the MMS text parts, in first-use order. */
export function messagePlaceholders(message: SmsMessage | MmsMessage): string[] {
  if (!isMmsMessage(message)) return placeholdersOf(message.text);
  return [...new Set(message.parts.flatMap((part) => (part.type === 'text' ? placeholdersOf(part.text) : [])))];
}

/** The images of an MMS decoded, by part index: done once per chunk, the buffers shared by every recipient. */
export type MmsImages = ReadonlyMap<number, Buffer>;

export function decodeMmsImages(message: MmsMessage): MmsImages {
  const images = new Map<number, Buffer>();
  message.parts.forEach((part, index) => {
    if (part.type === 'image') images.set(index, Buffer.from(part.base64, 'base64'));
  });
  return images;
}

/** One recipient's MMS: placeholders in the text parts rendered as in SMS; `text` is the text parts joined, for previews. */
export function composeMms(message: MmsMessage, vars: Readonly<Record<string, unknown>>, images: MmsImages): { mms: OutboundMms; text: string } {
  const parts = message.parts.map((part, index): OutboundMms['parts'][number] =>
    part.type === 'text' ? { type: 'text', text: renderTemplate(part.text, vars) } : { type: 'image', contentType: part.contentType, content: images.get(index)! },
  );
  const text = parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
  return { mms: { subject: message.subject, parts }, text };
}

// The first bytes of each image format we send (JPEG SOI, the PNG signature, GIF87a/GIF89a).
const SIGNATURES: Readonly<Record<MmsImageType, readonly number[]>> = {
  'image/jpeg': [0xff, 0xd8, 0xff],
  'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  'image/gif': [0x47, 0x49, 0x46, 0x38],
};

/**
 * Problems of an MMS before it is saved: placeholders that are not customers columns (text parts
 * only), stray braces, images whose bytes are not of their declared type, and a total size over
 * `maxBytes` (subject and text parts as UTF-8 as written, images decoded; rendered placeholders
 * may add a little, which the MMSC's own limit catches).
 */
export function checkMmsMessage(message: MmsMessage, catalog: Catalog, maxBytes: number, path = 'message'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const checkBraces = (value: string, at: string, placeholdersAllowed: boolean) => {
    for (const name of placeholdersOf(value)) {
      if (!placeholdersAllowed) problems.push({ path: at, message: `placeholders are only allowed in text parts ({${name}})` });
      else if (!catalog.column('customers', name)) problems.push({ path: at, message: `{${name}} is not a customers column` });
    }
    const stray = value.replace(/\{\{|\}\}|\{([a-z][a-z0-9_]{0,62})\}/g, '').match(/[{}]/);
    if (stray) problems.push({ path: at, message: `unmatched "${stray[0]}" (write {{ or }} for a literal brace)` });
  };
  checkBraces(message.subject, `${path}.subject`, false);
  let bytes = Buffer.byteLength(message.subject, 'utf8');
  message.parts.forEach((part, index) => {
    const at = `${path}.parts[${index}]`;
    if (part.type === 'text') {
      if (part.text.trim() === '') problems.push({ path: `${at}.text`, message: 'must not be empty' });
      checkBraces(part.text, `${at}.text`, true);
      bytes += Buffer.byteLength(part.text, 'utf8');
      return;
    }
    const image = Buffer.from(part.base64, 'base64');
    bytes += image.length;
    const signature = SIGNATURES[part.contentType];
    if (image.length < signature.length || signature.some((byte, i) => image[i] !== byte)) {
      problems.push({ path: `${at}.base64`, message: `is not a ${part.contentType} image (its first bytes say otherwise)` });
    }
  });
  if (bytes > maxBytes) {
    problems.push({
      path: `${path}.parts`,
      message: `the MMS is ${bytes.toLocaleString('en')} bytes (subject and text as UTF-8, images decoded); at most ${maxBytes.toLocaleString('en')} (MMS_MAX_BYTES)`,
    });
  }
  return problems;
}
