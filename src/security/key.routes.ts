import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import type { ApiKeyRow, CreatedKey } from './keys.js';
import { keyStatus } from './key.service.js';
import { ROLES } from './roles.js';
import { createKeyBody, createdKeyView, keyIdParams, keyView, type KeyView } from './key.schemas.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function view(key: ApiKeyRow): KeyView {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    prefix: key.prefix,
    status: keyStatus(key),
    createdBy: key.createdBy,
    createdAt: key.createdAt.toISOString(),
    expiresAt: iso(key.expiresAt),
    revokedAt: iso(key.revokedAt),
    lastUsedAt: iso(key.lastUsedAt),
  };
}

function createdView(key: CreatedKey, createdBy: string) {
  return {
    ...view({ ...key, createdBy, revokedAt: null, lastUsedAt: null }),
    key: key.key,
  };
}

export const keyRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { keys } = container;

  app.get(
    '/v1/whoami',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['keys'],
        summary: "The caller's key holder and role (what the console shows and hides)",
        response: { 200: z.object({ name: z.string(), role: z.enum(ROLES) }) },
      },
    },
    async (request) => ({ name: request.actor.name, role: request.actor.role }),
  );

  app.get(
    '/v1/keys',
    {
      config: { access: 'admin' },
      schema: { tags: ['keys'], summary: 'Every API key (never the secret)', response: { 200: z.object({ keys: z.array(keyView) }) } },
    },
    async () => ({ keys: (await keys.list()).map(view) }),
  );

  app.post(
    '/v1/keys',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the answer is the only time the key is shown',
        body: createKeyBody,
        response: { 201: createdKeyView },
      },
    },
    async (request, reply) => {
      const { name, role, expiresAt } = request.body;
      const created = await keys.create(request.actor, { name, role, expiresAt: expiresAt ? new Date(expiresAt) : null });
      return reply.code(201).send(createdView(created, request.actor.name));
    },
  );

  app.delete(
    '/v1/keys/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key (at once; revoking twice changes nothing)',
        params: keyIdParams,
        response: { 200: keyView },
      },
    },
    async (request) => view(await keys.revoke(request.actor, request.params.id)),
  );
};
