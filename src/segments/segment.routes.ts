import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { AppError, formatJsonPath } from '../http/errors.js';
import { withMultipartUpload } from '../uploads/upload-file.js';
import {
  createBody,
  listAnswer,
  listQuery,
  membersAnswer,
  membersQuery,
  previewAnswer,
  previewBody,
  refreshAnswer,
  segmentIdParams,
  segmentView,
  uploadFields,
} from './segment.schemas.js';

/**
 * 客户群. Analysts own their segments end to end, deleting included: a segment holds no one's data
 * but the warehouse's, and what depends on it (segments, rules, campaigns) blocks the delete.
 */
export const segmentRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { segments, config } = container;

  app.post(
    '/v1/segments/preview',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Count, breakdowns and a masked sample of the customers a condition selects; nothing is saved',
        body: previewBody,
        response: { 200: previewAnswer },
      },
    },
    async (request) => segments.preview(request.body, request.actor),
  );

  app.post(
    '/v1/segments',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Create a segment from a condition and materialise its members',
        body: createBody,
        response: { 201: segmentView },
      },
    },
    async (request, reply) => reply.code(201).send(await segments.create(request.body, request.actor)),
  );

  app.post(
    '/v1/segments/upload',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Create a segment from a file of phone numbers (multipart: field "name" and one file, one number per line)',
        response: { 201: segmentView },
      },
    },
    async (request, reply) => {
      const created = await withMultipartUpload(request, { dir: config.UPLOAD_DIR, maxBytes: config.UPLOAD_MAX_BYTES }, ({ fields, file }) => {
        const parsed = uploadFields.safeParse(fields);
        if (!parsed.success) {
          const errors = parsed.error.issues.map((i) => ({ path: formatJsonPath(i.path) || 'name', message: i.message }));
          throw new AppError('VALIDATION', 'The upload needs a "name" field', errors);
        }
        return segments.createFromUpload({ name: parsed.data.name, filePath: file.path, filename: file.filename }, request.actor);
      });
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/v1/segments',
    {
      config: { access: 'analyst' },
      schema: { tags: ['segments'], summary: 'Segments, newest first', querystring: listQuery, response: { 200: listAnswer } },
    },
    async (request) => segments.list(request.query, request.actor),
  );

  app.get(
    '/v1/segments/:id',
    {
      config: { access: 'analyst' },
      schema: { tags: ['segments'], summary: 'One segment: definition, status, count, snapshot versions', params: segmentIdParams, response: { 200: segmentView } },
    },
    async (request) => segments.get(request.params.id, request.actor),
  );

  app.get(
    '/v1/segments/:id/members',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Members by ascending customer_id, one page at a time (pass nextCursor back as cursor)',
        params: segmentIdParams,
        querystring: membersQuery,
        response: { 200: membersAnswer },
      },
    },
    async (request) => segments.members(request.params.id, request.query, request.actor),
  );

  app.get(
    '/v1/segments/:id/export',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'All members as CSV (customer_id,msisdn,name,city,county,grid_id,brand), streamed; audited',
        params: segmentIdParams,
        response: { 200: z.unknown().describe('text/csv, UTF-8 with BOM, streamed') },
      },
    },
    async (request, reply) => {
      const exported = await segments.export(request.params.id, request.actor);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${exported.filename}"`)
        .send(Readable.from(exported.chunks));
    },
  );

  app.post(
    '/v1/segments/:id/refresh',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Recompute the members on the current warehouse snapshot; counts before and after',
        params: segmentIdParams,
        response: { 200: refreshAnswer },
      },
    },
    async (request) => segments.refresh(request.params.id, request.actor),
  );

  app.delete(
    '/v1/segments/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['segments'],
        summary: 'Delete a segment and its members (409 while a segment, rule or campaign uses it)',
        params: segmentIdParams,
        response: { 204: z.null().describe('deleted') },
      },
    },
    async (request, reply) => {
      await segments.delete(request.params.id, request.actor);
      return reply.code(204).send(null);
    },
  );
};
