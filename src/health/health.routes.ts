import { sql } from 'kysely';
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import type { ScheduleState } from '../jobs/schedules.js';

const dependencyState = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const queueState = dependencyState.extend({
  /** Whether this process keeps the schedules (puts back those Redis lost). */
  kept: z.boolean(),
  /** The service's own schedules found in Redis (or put back by this check). */
  schedules: z.array(z.string()),
  /** Schedules Redis had lost, put back by this check. */
  restored: z.array(z.string()),
  missing: z.array(z.string()),
});
const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  dependencies: z.object({ postgres: dependencyState, redis: dependencyState, duckdb: dependencyState, queues: queueState }),
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

/** Not ready while a schedule is missing and cannot be put back: its jobs would silently never run. */
async function probeSchedules(container: Container): Promise<z.infer<typeof queueState>> {
  let state: ScheduleState | undefined;
  const probed = await probe(async () => {
    state = await container.schedules.check();
    if (!state.ok) throw new Error(state.error ?? 'the job schedules could not be checked');
  });
  return { ...probed, kept: state?.kept ?? false, schedules: state?.present ?? [], restored: state?.restored ?? [], missing: state?.missing ?? [] };
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
      schema: { tags: ['health'], summary: 'Readiness: Postgres, Redis and DuckDB answer, and the job schedules are in Redis', response: { 200: readiness, 503: readiness } },
    },
    async (_request, reply) => {
      const [postgres, redis, duckdb, queues] = await Promise.all([
        probe(() => sql`SELECT 1`.execute(container.db)),
        probe(() => container.redis.ping()),
        probe(() => container.warehouse.ping()),
        probeSchedules(container),
      ]);
      const ok = postgres.ok && redis.ok && duckdb.ok && queues.ok;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', dependencies: { postgres, redis, duckdb, queues } });
    },
  );
};
