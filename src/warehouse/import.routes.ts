import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { AppError } from '../http/errors.js';
import { problemsFor } from '../security/mask.js';
import { withMultipartUpload } from '../uploads/upload-file.js';
import { findImportRecord, listImportRecords } from './import.repository.js';
import { formatOfFilename } from './import.service.js';

const format = z.enum(['csv', 'parquet']);
const mode = z.enum(['replace', 'append']);

const importRecord = z.object({
  id: z.string(),
  dataset: z.string(),
  format: z.string(),
  mode: z.string(),
  source: z.string(),
  // `running` while under way; `interrupted` when the server stopped before it finished.
  status: z.enum(['running', 'succeeded', 'failed', 'interrupted']),
  rowsLoaded: z.number(),
  rowsRejected: z.number(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })),
  snapshotVersion: z.number().nullable(),
  durationMs: z.number(),
  createdBy: z.string(),
  createdAt: z.string(),
});

const importBody = z.object({
  dataset: z.string().min(1),
  path: z.string().min(1).max(1024),
  format: format.default('csv'),
  mode: mode.default('replace'),
});

export const importRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { imports, db, config } = container;

  app.post(
    '/v1/imports',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['imports'],
        summary: 'Import a server-side CSV or Parquet file (inside IMPORT_DIR) into a dataset, atomically',
        body: importBody,
        response: { 201: importRecord },
      },
    },
    async (request, reply) => reply.code(201).send(await imports.importFile(request.body, request.actor)),
  );

  app.post(
    '/v1/imports/upload',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['imports'],
        summary: 'Import an uploaded file (multipart, field "file"); streamed to disk, never held in memory',
        querystring: z.object({ dataset: z.string().min(1), format: format.optional(), mode: mode.default('replace') }),
        response: { 201: importRecord },
      },
    },
    async (request, reply) => {
      const record = await withMultipartUpload(request, { dir: config.UPLOAD_DIR, maxBytes: config.UPLOAD_MAX_BYTES }, ({ file }) =>
        imports.importFile(
          { dataset: request.query.dataset, path: file.path, format: request.query.format ?? formatOfFilename(file.filename), mode: request.query.mode },
          request.actor,
          { trustedPath: true, sourceLabel: `upload:${file.filename}` },
        ),
      );
      return reply.code(201).send(record);
    },
  );

  app.get(
    '/v1/imports',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['imports'],
        summary: 'Import history, newest first',
        querystring: z.object({ dataset: z.string().optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ imports: z.array(importRecord) }) },
      },
    },
    // Rejected cells are quoted in the errors (`"8615914037193" does not match…`): masked per role.
    async (request) => ({
      imports: (await listImportRecords(db, request.query)).map((r) => ({ ...r, errors: problemsFor(request.actor.role, r.errors) })),
    }),
  );

  app.get(
    '/v1/imports/:id',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['imports'],
        summary: 'One import record',
        params: z.object({ id: z.uuid() }),
        response: { 200: importRecord },
      },
    },
    async (request) => {
      const record = await findImportRecord(db, request.params.id);
      if (!record) throw new AppError('NOT_FOUND', `No import ${request.params.id}`);
      return { ...record, errors: problemsFor(request.actor.role, record.errors) };
    },
  );
};
