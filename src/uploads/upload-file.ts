import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../http/errors.js';
import { unstorableTextProblems } from '../http/storable-text.js';

/** A file streamed to scratch space; `remove()` deletes it (safe to call twice). */
export interface UploadedFile {
  path: string;
  bytes: number;
  /** The name the client gave, for reports and audit only (never used as a path). */
  filename: string;
  remove(): Promise<void>;
}

export interface UploadLimits {
  /** `config.UPLOAD_DIR`. */
  dir: string;
  /** `config.UPLOAD_MAX_BYTES`. */
  maxBytes: number;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the ${maxBytes}-byte upload limit`);
}

/**
 * Streams `source` to a new file under `limits.dir`, never holding it in memory. More than
 * `maxBytes` fails with 413 and leaves nothing behind. `source.truncated` is honoured as well:
 * busboy (under @fastify/multipart) ends a part early at its own limit instead of failing it.
 */
export async function saveUpload(
  source: Readable & { truncated?: boolean },
  limits: UploadLimits,
  filename = 'upload',
): Promise<UploadedFile> {
  await mkdir(limits.dir, { recursive: true });
  const target = path.join(limits.dir, `${randomUUID()}.upload`);
  const remove = () => rm(target, { force: true });
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) done(tooLarge(limits.maxBytes));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(source, counter, createWriteStream(target, { flags: 'wx' }));
    if (source.truncated) throw tooLarge(limits.maxBytes);
  } catch (error) {
    await remove();
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw tooLarge(limits.maxBytes);
    throw error;
  }
  return { path: target, bytes, filename, remove };
}

/** A multipart request's text fields and its one file, already on disk. */
export interface MultipartUpload {
  fields: Record<string, string>;
  file: UploadedFile;
}

/**
 * Reads a multipart request holding one file and any text fields (in any order), streams the file
 * to scratch space, runs `work`, and removes the file afterwards whatever happens.
 * No file is a 400 naming `file`; a second file is a 400 naming its field. A body that is not
 * well-formed multipart (no or another boundary, cut short) is a 400, and so are text fields that
 * cannot be stored (NUL, lone surrogates), named like JSON body fields.
 */
export async function withMultipartUpload<T>(
  request: FastifyRequest,
  limits: UploadLimits,
  work: (upload: MultipartUpload) => Promise<T>,
): Promise<T> {
  if (!request.isMultipart()) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data');
  }
  const fields: Record<string, string> = {};
  let file: UploadedFile | undefined;
  try {
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          if (file) {
            part.file.resume();
            throw new AppError('VALIDATION', 'Send exactly one file', [{ path: part.fieldname, message: 'a second file; send exactly one file' }]);
          }
          file = await saveUpload(part.file, limits, part.filename || 'upload');
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
    } catch (error) {
      throw malformedMultipart(error) ?? error;
    }
    const unstorable = unstorableTextProblems(fields);
    if (unstorable.length > 0) throw new AppError('VALIDATION', `Invalid field ${unstorable[0]!.path}: ${unstorable[0]!.message}`, unstorable);
    if (!file) throw new AppError('VALIDATION', 'Send one file of phone numbers', [{ path: 'file', message: 'missing' }]);
    return await work({ fields, file });
  } finally {
    await file?.remove();
  }
}

/**
 * busboy's own complaints about the body (no boundary in the content type, none found in the
 * body, a body cut short) as a 400; undefined for anything else, which is not the client's fault
 * (a full disk while saving is still a 500).
 */
function malformedMultipart(error: unknown): AppError | undefined {
  if (isAppError(error) || (error as { code?: unknown }).code !== undefined) return undefined;
  const message = error instanceof Error ? error.message : '';
  if (!/^Multipart: Boundary not found$|unexpected end of multipart data/i.test(message)) return undefined;
  return new AppError('VALIDATION', `The multipart/form-data body is malformed: ${message}`, [{ path: 'body', message }]);
}
