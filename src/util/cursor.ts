import { AppError } from '../http/errors.js';

/**
 * Opaque page cursors: `(createdAt, id)` of the last row of a page, so a client cannot build its
 * own and paging is stable while rows are added.
 */
export function encodeTimeIdCursor(kind: string, createdAt: Date, id: string): string {
  return Buffer.from(`${kind}:${createdAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeTimeIdCursor(kind: string, cursor: string): { createdAt: Date; id: string } {
  const match = new RegExp(`^${kind}:([0-9T:.\\-Z]+)\\|([0-9a-f-]{36})$`).exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const createdAt = match ? new Date(match[1]!) : undefined;
  if (!match || !createdAt || Number.isNaN(createdAt.getTime())) {
    throw new AppError('VALIDATION', 'cursor is not one this API handed out', [{ path: 'cursor', message: 'unknown cursor' }]);
  }
  return { createdAt, id: match[2]! };
}
