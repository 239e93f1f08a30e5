import { XMLBuilder } from 'fast-xml-parser';
import type { OutboundMms } from '../gateway.js';
import { buildMultipartRelated, parseMultipartRelated, type MimePart, type MultipartRelated, type ParsedPart } from './mm7.multipart.js';
import { buildSubmitReq, parseSubmitReq, type SubmitReq } from './mm7.soap.js';

/** Content-IDs of the parts we write; `cid:` references in the envelope and the SMIL name them. */
const ENVELOPE_ID = 'soap-envelope@quanke';
const CONTENT_ID = 'mms-content@quanke';
const SMIL_ID = 'smil@quanke';
const SLIDE_MS = 5_000;

const EXTENSIONS: Readonly<Record<string, string>> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif' };

const smilBuilder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: true, suppressBooleanAttributes: false });

/**
 * The presentation (SMIL, as MMS clients read it: OMA MMS SMIL): one slide per part, an image
 * region above a text region.
 */
export function buildSmil(parts: ReadonlyArray<{ kind: 'text' | 'image'; contentId: string }>): string {
  return smilBuilder.build({
    smil: {
      head: {
        layout: {
          'root-layout': { '@_width': '100%', '@_height': '100%' },
          region: [
            { '@_id': 'Image', '@_top': '0%', '@_left': '0%', '@_width': '100%', '@_height': '70%', '@_fit': 'meet' },
            { '@_id': 'Text', '@_top': '70%', '@_left': '0%', '@_width': '100%', '@_height': '30%', '@_fit': 'scroll' },
          ],
        },
      },
      body: {
        par: parts.map((part) => ({
          '@_dur': `${SLIDE_MS}ms`,
          [part.kind === 'image' ? 'img' : 'text']: { '@_src': `cid:${part.contentId}`, '@_region': part.kind === 'image' ? 'Image' : 'Text' },
        })),
      },
    },
  }) as string;
}

// The SMIL depends on the order of text and image slides alone, so a campaign builds it once
// rather than per recipient (the XML builder costs about as much as the rest of the request).
const smilCache = new Map<string, Buffer>();
const SMIL_CACHE_SIZE = 64;

function smilFor(slides: ReadonlyArray<{ kind: 'text' | 'image'; contentId: string }>): Buffer {
  const key = slides.map((s) => s.contentId).join(' ');
  let smil = smilCache.get(key);
  if (!smil) {
    smil = Buffer.from(buildSmil(slides), 'utf8');
    if (smilCache.size >= SMIL_CACHE_SIZE) smilCache.clear();
    smilCache.set(key, smil);
  }
  return smil;
}

/** The MM content: a `multipart/related` of the SMIL (its start) and the media parts in order. */
export function buildMmsContent(mms: OutboundMms): MultipartRelated {
  const media: MimePart[] = [];
  const slides: Array<{ kind: 'text' | 'image'; contentId: string }> = [];
  mms.parts.forEach((part, index) => {
    const n = index + 1;
    if (part.type === 'text') {
      const contentId = `text-${n}@quanke`;
      slides.push({ kind: 'text', contentId });
      media.push({
        headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Content-ID': `<${contentId}>`, 'Content-Location': `text-${n}.txt` },
        body: Buffer.from(part.text, 'utf8'),
      });
    } else {
      const contentId = `image-${n}@quanke`;
      slides.push({ kind: 'image', contentId });
      const extension = EXTENSIONS[part.contentType] ?? 'bin';
      media.push({
        headers: { 'Content-Type': part.contentType, 'Content-ID': `<${contentId}>`, 'Content-Location': `image-${n}.${extension}`, 'Content-Transfer-Encoding': 'binary' },
        body: part.content,
      });
    }
  });
  const smil: MimePart = {
    headers: { 'Content-Type': 'application/smil; charset=utf-8', 'Content-ID': `<${SMIL_ID}>`, 'Content-Location': 'presentation.smil' },
    body: smilFor(slides),
  };
  return buildMultipartRelated([smil, ...media], { type: 'application/smil', start: SMIL_ID });
}

/** A whole SubmitReq HTTP body: the envelope (the root) and the MM content it refers to by `cid:`. */
export function buildSubmitRequest(req: Omit<SubmitReq, 'contentId'>, mms: OutboundMms): MultipartRelated {
  const content = buildMmsContent(mms);
  const envelope = buildSubmitReq({ ...req, contentId: CONTENT_ID });
  return buildMultipartRelated(
    [
      { headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-ID': `<${ENVELOPE_ID}>` }, body: Buffer.from(envelope, 'utf8') },
      { headers: { 'Content-Type': content.contentType, 'Content-ID': `<${CONTENT_ID}>` }, body: content.body },
    ],
    { type: 'text/xml', start: ENVELOPE_ID },
  );
}

export interface ReceivedMms {
  subject: string;
  /** Texts and images in the order of the content part (after the SMIL). */
  parts: Array<{ type: 'text'; text: string } | { type: 'image'; contentType: string; content: Buffer }>;
  smil: string | null;
}

/** Reads a SubmitReq HTTP body back (the MMSC's side: the simulator and the tests). */
export function parseSubmitRequest(contentType: string | undefined, body: Uint8Array): { req: SubmitReq; mms: ReceivedMms } {
  const outer = parseMultipartRelated(contentType, body);
  const req = parseSubmitReq(outer.root.body.toString('utf8'));
  const contentPart = outer.parts.find((part) => part.contentId === req.contentId);
  if (!contentPart) throw new Error(`the SubmitReq refers to cid:${req.contentId}, which is not in the body`);
  return { req, mms: readContent(req.subject, contentPart) };
}

function readContent(subject: string, part: ParsedPart): ReceivedMms {
  const type = part.contentType;
  if (!type || type.type !== 'multipart') return { subject, parts: [media(part)].filter((p) => p !== null), smil: null };
  const inner = parseMultipartRelated(type.toString(), part.body);
  const isSmil = (p: ParsedPart) => p.contentType?.essence === 'application/smil';
  const smil = isSmil(inner.root) ? inner.root.body.toString('utf8') : null;
  const parts = inner.parts.filter((p) => !isSmil(p)).map(media).filter((p) => p !== null);
  return { subject, parts, smil };
}

function media(part: ParsedPart): ReceivedMms['parts'][number] | null {
  // No Content-Type means text/plain (RFC 2045 §5.2).
  const essence = part.contentType?.essence ?? 'text/plain';
  if (essence.startsWith('text/')) return { type: 'text', text: part.body.toString('utf8') };
  if (essence.startsWith('image/')) return { type: 'image', contentType: essence, content: part.body };
  return null;
}
