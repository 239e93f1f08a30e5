import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../http/errors.js';

/** Paths the API owns: an unknown one there is the API's problem+json 404, never the console's page. */
const API_PREFIXES = ['/v1', '/docs', '/health', '/ready', '/metrics', '/admin'];

function ownedByApi(url: string): boolean {
  return API_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`) || url.startsWith(`${p}?`));
}

/**
 * Serves the built console at `/`: hashed assets cached for a year, any other path that is not
 * the API's answered with index.html (the console routes in the browser), never cached so a new
 * build is picked up at the next load.
 */
export const consoleRoutes: FastifyPluginAsync<{ root: string }> = async (app, { root }) => {
  await app.register(fastifyStatic, { root, serve: false });
  const hidden = { schema: { hide: true }, config: { access: 'public' as const } };

  app.get('/assets/*', hidden, (request, reply) => {
    const file = (request.params as { '*': string })['*'];
    return reply.sendFile(path.posix.join('assets', file), { maxAge: '365d', immutable: true });
  });

  app.get('/*', hidden, (request, reply) => {
    const url = request.url;
    if (ownedByApi(url)) throw new AppError('NOT_FOUND', `No route ${request.method} ${url.split('?')[0]}`);
    const file = url.split('?')[0]!.slice(1);
    if (file !== '' && !file.includes('..') && path.extname(file) !== '' && existsSync(path.join(root, file))) {
      return reply.sendFile(file, { maxAge: '1h' });
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { maxAge: 0, cacheControl: false });
  });
};
