import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

/**
 * The HTTP latency histogram (every request, labelled by route template so ids in URLs do not
 * multiply series) and `GET /metrics`: without a key from this machine (a local Prometheus or
 * node agent), otherwise with an admin key.
 */
export const metricsPlugin = fp(async (app: FastifyInstance, opts: { metrics: Metrics }) => {
  const { metrics } = opts;

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get(
    '/metrics',
    {
      config: { access: 'admin', loopbackWithoutKey: true },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (no key needed from loopback; an admin key otherwise)',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );
});
