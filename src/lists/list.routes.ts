import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { AppError, formatJsonPath } from '../http/errors.js';
import { withMultipartUpload } from '../uploads/upload-file.js';
import {
  ADD_ENTRIES_BODY_LIMIT,
  addAnswer,
  addEntriesBody,
  createListBody,
  entriesAnswer,
  entriesQuery,
  entryParams,
  listParams,
  listsAnswer,
  listView,
  removedAnswer,
  uploadAnswer,
  uploadFields,
} from './list.schemas.js';

const expiry = (value: string | null | undefined): Date | null | undefined =>
  value === undefined ? undefined : value === null ? null : new Date(value);

/** 特殊名单: analysts read, operators change; every change is audited by the service. */
export const listRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { lists, config } = container;

  app.get(
    '/v1/lists',
    {
      config: { access: 'analyst' },
      schema: { tags: ['lists'], summary: 'Special lists (system and custom) with their entry counts', response: { 200: listsAnswer } },
    },
    async () => ({ lists: await lists.list() }),
  );

  app.post(
    '/v1/lists',
    {
      config: { access: 'operator' },
      schema: { tags: ['lists'], summary: 'Create a custom list', body: createListBody, response: { 201: listView } },
    },
    async (request, reply) => reply.code(201).send(await lists.create(request.body, request.actor)),
  );

  app.post(
    '/v1/lists/:type/entries',
    {
      config: { access: 'operator' },
      bodyLimit: Math.max(config.BODY_LIMIT_BYTES, ADD_ENTRIES_BODY_LIMIT),
      schema: {
        tags: ['lists'],
        summary: 'Add numbers (up to 100,000), idempotently: re-adding refreshes reason and expiry and revives a removed entry',
        params: listParams,
        body: addEntriesBody,
        response: { 200: addAnswer },
      },
    },
    async (request) =>
      lists.addEntries(
        request.params.type,
        request.body.msisdns,
        { reason: request.body.reason, expiresAt: expiry(request.body.expiresAt), source: 'api' },
        request.actor,
      ),
  );

  app.post(
    '/v1/lists/:type/upload',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['lists'],
        summary: 'Add the numbers of a file (multipart: one file, one number per line; optional fields reason, expiresAt); all or nothing',
        params: listParams,
        response: { 200: uploadAnswer },
      },
    },
    async (request) => {
      // The list is checked before the file is read: an unknown list is a 404, not a parse.
      await lists.requireList(request.params.type);
      return withMultipartUpload(request, { dir: config.UPLOAD_DIR, maxBytes: config.UPLOAD_MAX_BYTES }, ({ fields, file }) => {
        const parsed = uploadFields.safeParse(fields);
        if (!parsed.success) {
          const errors = parsed.error.issues.map((i) => ({ path: formatJsonPath(i.path), message: i.message }));
          throw new AppError('VALIDATION', 'The upload fields are not valid', errors);
        }
        return lists.upload(
          request.params.type,
          { path: file.path, filename: file.filename },
          { reason: parsed.data.reason, expiresAt: expiry(parsed.data.expiresAt) },
          request.actor,
        );
      });
    },
  );

  app.get(
    '/v1/lists/:type/entries',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['lists'],
        summary: 'Live entries of a list (expired ones flagged), oldest first, one page at a time',
        params: listParams,
        querystring: entriesQuery,
        response: { 200: entriesAnswer },
      },
    },
    async (request) => lists.entries(request.params.type, request.query, request.actor),
  );

  app.delete(
    '/v1/lists/:type/entries/:msisdn',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['lists'],
        summary: 'Remove a number from a list (audited with the entry as it was)',
        params: entryParams,
        response: { 200: removedAnswer },
      },
    },
    async (request) => ({
      list: request.params.type,
      removed: await lists.removeEntry(request.params.type, request.params.msisdn, request.actor),
    }),
  );
};
