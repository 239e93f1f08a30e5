import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Warehouse } from '../warehouse/duckdb.js';

/** States a queue's depth is reported in; `completed`/`failed` are kept by BullMQ's retention settings. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'failed', 'completed'] as const;

export interface QueueDepthSource {
  name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/**
 * The service's Prometheus registry, one per container (so several apps in one test process do
 * not share counters). Features add their own metrics to `registry`; a gauge whose value lives
 * elsewhere (Postgres, Redis) should compute it in `collect`, which runs on every scrape.
 */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  duckdbQuerySeconds: Histogram<'kind' | 'outcome'>;
  authFailures: Counter<'reason'>;
  /** Messages leaving the send pipeline, by gateway and outcome (submitted, failed, unknown, suppressed, capped, retry). */
  messages: Counter<'gateway' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'quanke_http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const duckdbQuerySeconds = new Histogram({
    name: 'quanke_duckdb_query_seconds',
    help: 'DuckDB query time (reads include waiting for a free connection), by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'quanke_auth_failures_total',
    help: 'Requests refused authentication: missing (no key), invalid (unknown, revoked or expired key), throttled (too many failures from the address; not looked up)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const messages = new Counter({
    name: 'quanke_messages_total',
    help: 'Messages handled by the send workers of this process, by gateway and outcome',
    labelNames: ['gateway', 'outcome'] as const,
    registers: [registry],
  });
  return { registry, httpDuration, duckdbQuerySeconds, authFailures, messages };
}

/** Times every warehouse query. */
export function observeWarehouse(metrics: Metrics, warehouse: Warehouse): void {
  warehouse.observer = (kind, seconds, ok) => metrics.duckdbQuerySeconds.observe({ kind, outcome: ok ? 'ok' : 'error' }, seconds);
}

/** Jobs per queue and state, read from Redis when scraped. */
export function observeQueueDepth(metrics: Metrics, queues: () => QueueDepthSource[], logger: Logger): void {
  new Gauge({
    name: 'quanke_queue_jobs',
    help: 'BullMQ jobs per queue and state, read at scrape time',
    labelNames: ['queue', 'state'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues().map(async (queue) => {
          try {
            const counts = await queue.getJobCounts(...QUEUE_STATES);
            for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
          } catch (error) {
            // Redis down: the queue's series vanish from this scrape (Prometheus marks them stale)
            // rather than failing the whole scrape, which would hide every other metric too.
            logger.warn({ err: error, queue: queue.name }, 'queue depth unavailable');
          }
        }),
      );
    },
  });
}

/**
 * How long the oldest running campaign has been owed messages: its send start, for every campaign
 * still `sending`. Read from the campaigns table at scrape time (never the ledger: a scrape must
 * stay cheap at 10M recipients).
 */
export function observeSendBacklog(metrics: Metrics, oldestSendingSince: () => Promise<Date | null>, logger: Logger): void {
  new Gauge({
    name: 'quanke_send_oldest_queued_seconds',
    help: 'Seconds since the send start of the oldest campaign still sending (0 when none is)',
    registers: [metrics.registry],
    async collect() {
      try {
        const since = await oldestSendingSince();
        this.set(since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0);
      } catch (error) {
        logger.warn({ err: error }, 'send backlog unavailable');
      }
    },
  });
}
