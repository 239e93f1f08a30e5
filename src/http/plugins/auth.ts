import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { AppError } from '../errors.js';
import { findActiveKey } from '../../security/keys.js';
import { mayAccess, type Access, type Actor } from '../../security/roles.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; required on every route (checked at start-up). */
    access?: Access;
  }
  interface FastifyRequest {
    /** The key holder making the request; set for every non-public route. */
    actor: Actor;
  }
}

/** Routes that plugins (Swagger UI) register for themselves; they are public documentation. */
const PLUGIN_PUBLIC_PREFIXES = ['/docs'];

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/**
 * API-key authentication and role checks. Every route must declare `config.access`; a route
 * without one stops the app from starting, so nothing is ever exposed by omission.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { db: Kysely<Database> }) => {
  app.decorateRequest('actor', null as unknown as Actor);

  app.addHook('onRoute', (route) => {
    if (route.config?.access) return;
    if (PLUGIN_PUBLIC_PREFIXES.some((p) => route.url.startsWith(p))) {
      route.config = { ...route.config, access: 'public' };
      return;
    }
    throw new Error(`route ${String(route.method)} ${route.url} declares no config.access`);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    // Unknown URLs (404) have no route options; treat them as public so the 404 is honest.
    if (access === undefined || access === 'public') return;
    const secret = bearer(request);
    if (!secret) throw new AppError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <key>"');
    const principal = await findActiveKey(opts.db, secret);
    if (!principal) throw new AppError('UNAUTHENTICATED', 'The API key is unknown, revoked or expired');
    request.actor = { name: principal.name, role: principal.role, ip: request.ip, requestId: String(request.id) };
    if (!mayAccess(principal.role, access)) {
      throw new AppError('FORBIDDEN', `This needs the ${access} role; your key has the ${principal.role} role`);
    }
  });
});
