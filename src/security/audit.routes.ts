import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { AppError } from '../http/errors.js';
import { searchAudit } from './audit.repository.js';

const auditQuery = z.object({
  actor: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(200).optional().describe('e.g. `key.create`, `list.entries.remove`'),
  targetType: z.string().min(1).max(200).optional(),
  targetId: z.string().min(1).max(500).optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('Inclusive'),
  to: z.iso.datetime({ offset: true }).optional().describe('Exclusive'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(40).optional().describe('`nextCursor` of the previous page'),
});

const auditEntry = z.object({
  id: z.number(),
  at: z.string(),
  actor: z.string(),
  actorRole: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string().nullable(),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  details: z.unknown(),
});

// The cursor is the last id of a page; opaque so clients do not build their own.
const encodeCursor = (id: number) => Buffer.from(`a:${id}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const match = /^a:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new AppError('VALIDATION', 'cursor is not one this API handed out', [{ path: 'cursor', message: 'unknown cursor' }]);
  return Number(match[1]);
}

export const auditRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  app.get(
    '/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first, filtered and paged',
        querystring: auditQuery,
        response: { 200: z.object({ entries: z.array(auditEntry), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const q = request.query;
      const rows = await searchAudit(container.db, {
        actor: q.actor,
        action: q.action,
        targetType: q.targetType,
        targetId: q.targetId,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        beforeId: q.cursor ? decodeCursor(q.cursor) : undefined,
        limit: q.limit + 1,
      });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return {
        entries: page.map((r) => ({ ...r, at: r.at.toISOString() })),
        nextCursor: rows.length > q.limit && last ? encodeCursor(last.id) : null,
      };
    },
  );
};
