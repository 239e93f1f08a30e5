import { sql } from 'kysely';
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';

const dependencyState = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  dependencies: z.object({ postgres: dependencyState, redis: dependencyState, duckdb: dependencyState }),
});

async function probe(check: () => Promise<unknown>): Promise<z.infer<typeof dependencyState>> {
  const started = performance.now();
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2000 ms')), 2000).unref()),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error).message };
  }
}

export const healthRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  app.get(
    '/health',
    { config: { access: 'public' }, schema: { tags: ['health'], summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: { tags: ['health'], summary: 'Readiness: Postgres, Redis and DuckDB answer', response: { 200: readiness, 503: readiness } },
    },
    async (_request, reply) => {
      const [postgres, redis, duckdb] = await Promise.all([
        probe(() => sql`SELECT 1`.execute(container.db)),
        probe(() => container.redis.ping()),
        probe(() => container.warehouse.ping()),
      ]);
      const ok = postgres.ok && redis.ok && duckdb.ok;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', dependencies: { postgres, redis, duckdb } });
    },
  );
};
