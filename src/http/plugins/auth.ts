import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Database } from '../../db/schema.js';
import { AppError } from '../errors.js';
import { sendProblem } from '../problem.js';
import { findActiveKey, touchKeyLastUsed } from '../../security/keys.js';
import { mayAccess, type Access, type Actor } from '../../security/roles.js';
import { clientAddress } from './security.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; required on every route (checked at start-up). */
    access?: Access;
    /**
     * Callers on this machine (loopback) may call the route without a key, as the system actor;
     * from anywhere else the route needs `access`. For scrapers running beside the service.
     */
    loopbackWithoutKey?: boolean;
  }
  interface FastifyRequest {
    /** The key holder making the request; set for every non-public route. */
    actor: Actor;
  }
  interface FastifyInstance {
    /** Every route registered so far with the access it requires (for the route-table test and audits of the surface). */
    routeAccess: RouteAccess[];
  }
}

export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

/** Routes that plugins (Swagger UI) register for themselves; they are public documentation. */
const PLUGIN_PUBLIC_PREFIXES = ['/docs'];
/**
 * Routes the queue dashboard (bull-board) registers without a config; it shows and retries jobs.
 * Browsers cannot send a Bearer header to a page, so these also accept the key as the password of
 * HTTP Basic authentication, and a 401 asks the browser for it.
 */
export const DASHBOARD_PREFIX = '/admin/queues';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

function isDashboard(url: string | undefined): boolean {
  return url !== undefined && (url === DASHBOARD_PREFIX || url.startsWith(`${DASHBOARD_PREFIX}/`));
}

function presentedKey(request: FastifyRequest, allowBasic: boolean): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  if (!allowBasic) return undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString();
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) || undefined : undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function usedBasic(request: FastifyRequest): boolean {
  return /^Basic\s/i.test(request.headers.authorization ?? '');
}

/** Fetch metadata when the browser sends it, else the Origin header against the Host. */
function crossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

function challenge(reply: FastifyReply, dashboard: boolean): void {
  reply.header('www-authenticate', dashboard ? 'Basic realm="Quanke queues", charset="UTF-8"' : 'Bearer realm="Quanke"');
}

/** Why a request was refused authentication (the `reason` of `quanke_auth_failures_total`). */
export type AuthFailure = 'missing' | 'invalid' | 'throttled';

export interface AuthOptions {
  db: Kysely<Database>;
  /** Failed authentications an address may make a minute; past that it is refused before any key lookup. */
  failuresPerMinute?: number;
  onFailure?(reason: AuthFailure): void;
}

/**
 * API-key authentication and role checks. Every route must declare `config.access`; a route
 * without one stops the app from starting, so nothing is ever exposed by omission.
 *
 * Failures are counted per address, and an address over its budget is refused before its key is
 * looked up: otherwise every made-up key costs a Postgres query, and each would be a fresh
 * rate-limit bucket of its own. A valid key from that address waits out the minute too, since
 * telling it apart would take the very lookup being saved.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: AuthOptions) => {
  const failures = new RateLimiterMemory({ points: opts.failuresPerMinute ?? 30, duration: 60 });
  const onFailure = opts.onFailure ?? (() => undefined);
  app.decorateRequest('actor', null as unknown as Actor);
  const table: RouteAccess[] = [];
  app.decorate('routeAccess', table);

  app.addHook('onRoute', (route) => {
    if (!route.config?.access) {
      if (PLUGIN_PUBLIC_PREFIXES.some((p) => route.url.startsWith(p))) {
        route.config = { ...route.config, access: 'public' };
      } else if (isDashboard(route.url)) {
        route.config = { ...route.config, access: 'admin' };
      } else {
        throw new Error(`route ${String(route.method)} ${route.url} declares no config.access`);
      }
    }
    const access = route.config!.access!;
    for (const method of [route.method].flat()) table.push({ method: String(method), url: route.url, access });
  });

  async function authenticate(request: FastifyRequest, reply: FastifyReply, access: Access): Promise<void> {
    const dashboard = isDashboard(request.routeOptions.url);
    const secret = presentedKey(request, dashboard);
    if (!secret && request.routeOptions.config.loopbackWithoutKey && !request.headers.authorization && LOOPBACK.has(request.ip)) {
      request.actor = { name: 'system:loopback', role: 'admin', ip: request.ip, requestId: String(request.id) };
      return;
    }
    const address = clientAddress(request);
    const spent = await failures.get(address);
    if (spent && spent.consumedPoints >= failures.points) {
      onFailure('throttled');
      const seconds = Math.max(1, Math.ceil(spent.msBeforeNext / 1000));
      reply.header('retry-after', seconds);
      throw new AppError('RATE_LIMITED', `Too many failed authentications from this address; retry in ${seconds} s`);
    }
    if (!secret) {
      await failures.penalty(address);
      onFailure('missing');
      challenge(reply, dashboard);
      throw new AppError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <key>"');
    }
    const principal = await findActiveKey(opts.db, secret);
    if (!principal) {
      await failures.penalty(address);
      onFailure('invalid');
      challenge(reply, dashboard);
      throw new AppError('UNAUTHENTICATED', 'The API key is unknown, revoked or expired');
    }
    request.actor = { name: principal.name, role: principal.role, ip: request.ip, requestId: String(request.id) };
    if (usedBasic(request) && !SAFE_METHODS.has(request.method) && crossSite(request)) {
      // Browsers attach Basic credentials to cross-site requests by themselves; a page elsewhere
      // must not be able to empty or retry queues on an admin's behalf.
      throw new AppError('FORBIDDEN', 'Cross-site changes to the queue dashboard are refused');
    }
    if (!mayAccess(principal.role, access)) {
      throw new AppError('FORBIDDEN', `This needs the ${access} role; your key has the ${principal.role} role`);
    }
    try {
      await touchKeyLastUsed(opts.db, principal);
    } catch (error) {
      // Bookkeeping only: a failed stamp must not fail the request it describes.
      request.log.warn({ err: error, keyId: principal.keyId }, 'could not record key use');
    }
  }

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    // Unknown URLs (404) have no route options; treat them as public so the 404 is honest.
    if (access === undefined || access === 'public') return;
    try {
      await authenticate(request, reply, access);
    } catch (error) {
      // Answered here rather than thrown, so plugins with their own error handler (the queue
      // dashboard) still answer 401/403 as problem+json.
      return sendProblem(reply, error, request);
    }
  });
});
