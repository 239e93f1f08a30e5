import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.js';
import { AppError } from '../errors.js';
import { hashKey } from '../../security/keys.js';

/**
 * Probes and the scrape endpoint are called by machines on a schedule; they are not limited. Nor
 * are the gateways' callbacks: an MMSC or a Kannel posts one delivery report per message, far over
 * any per-address budget, and each is checked against its gateway's callback token.
 */
const UNLIMITED_ROUTES = new Set(['/health', '/ready', '/metrics', '/v1/feedback/mm7', '/v1/feedback/kannel', '/v1/feedback/kannel/mo']);

/** The caller's address as rate limits count it: IPv6 by its /64, which one host usually holds whole. */
export function clientAddress(request: Pick<FastifyRequest, 'ip'>): string {
  return normalizeIP(request.ip);
}

/**
 * The rate-limit bucket: the key once it has authenticated (by a prefix of its hash, so the
 * secret is not kept in memory as a map key), else the client address. A key that did not
 * authenticate never gets a bucket of its own, or each made-up key would start a fresh budget.
 */
export function rateLimitBucket(request: Pick<FastifyRequest, 'headers' | 'ip' | 'actor'>): string {
  const header = request.headers.authorization;
  const token = request.actor && header ? /^(?:Bearer|Basic)\s+(\S+)$/i.exec(header)?.[1] : undefined;
  return token ? `key:${hashKey(token).slice(0, 16)}` : `ip:${clientAddress(request)}`;
}

/**
 * Whether JSON text nests arrays and objects deeper than `limit`, read from the raw text before
 * anything is parsed: a megabyte of `[[[[…` is refused in one linear pass instead of being built
 * into half a million nested arrays first.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Generous for any condition the condition limits allow (each level is an object and an array). */
export function maxJsonDepth(config: Pick<Config, 'CONDITION_MAX_DEPTH'>): number {
  return Math.max(32, config.CONDITION_MAX_DEPTH * 4 + 8);
}

/**
 * Security headers, the per-key rate limit, a cap on JSON nesting, and the request id echoed to
 * the caller. Callers without a working key are limited by the auth plugin, per address, before
 * their key is looked up.
 */
export const securityPlugin = fp(async (app: FastifyInstance, opts: { config: Config }) => {
  const { config } = opts;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      directives: {
        // Served over plain HTTP on a LAN or behind a TLS proxy; upgrading would break /docs.
        upgradeInsecureRequests: null,
      },
    },
    // HSTS is the TLS terminator's business; on plain HTTP it is ignored or, worse, pins a wrong host.
    strictTransportSecurity: false,
  });

  await app.register(rateLimit, {
    global: false,
    max: config.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: rateLimitBucket,
    allowList: (request) => UNLIMITED_ROUTES.has(request.routeOptions.url ?? ''),
    errorResponseBuilder: (_request, context) =>
      new AppError('RATE_LIMITED', `More than ${context.max} requests a minute from this key or address; retry in ${context.after}`),
  });
  // preParsing runs after every onRequest hook, authentication included, so the bucket can be the
  // authenticated key; and before the body is read, so a limited caller costs no parsing.
  const limit = app.rateLimit();
  app.addHook('preParsing', async function (request, reply) {
    await limit.call(this, request, reply);
  });

  // Fastify's own JSON parser (prototype-poisoning checks included), behind a nesting check.
  const depthLimit = maxJsonDepth(config);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const body = raw.toString();
    if (jsonNestingExceeds(body, depthLimit)) {
      done(new AppError('VALIDATION', `The body nests deeper than ${depthLimit} levels`, [{ path: '', message: `nesting deeper than ${depthLimit}` }]), undefined);
      return;
    }
    parseJson(request, body, done);
  });
});
