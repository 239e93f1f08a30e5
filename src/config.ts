import path from 'node:path';
import { z } from 'zod';

const bytes = z.coerce.number().int().positive();
/** A comma-separated list of reply keywords, e.g. `T,TD,退订`. */
const keywords = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((k) => k.trim()).filter(Boolean) : v),
  z.array(z.string().min(1)).min(1, 'name at least one keyword'),
);

/**
 * Every setting the service reads from the environment. Defaults work on a developer machine
 * with Postgres and Redis on localhost; a bad value stops start-up naming the variable.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/quanke'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ key, so several deployments (or the tests) can share one Redis. */
  QUEUE_PREFIX: z.string().regex(/^[a-z0-9_-]+$/i).default('quanke'),
  DUCKDB_PATH: z.string().min(1).default('./data/quanke.duckdb'),
  DUCKDB_MEMORY_LIMIT: z.string().regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i).default('4GB'),
  DUCKDB_THREADS: z.coerce.number().int().min(1).max(256).default(2),
  /** Concurrent analytical reads; further queries wait, so one analyst cannot starve the rest. */
  DUCKDB_READ_CONNECTIONS: z.coerce.number().int().min(1).max(64).default(4),
  /** The only folder server-side imports (`POST /v1/imports {path}`) may read from. */
  IMPORT_DIR: z.string().min(1).default('./data'),
  /** Scratch space for streamed uploads. */
  UPLOAD_DIR: z.string().min(1).default('./data/uploads'),
  UPLOAD_MAX_BYTES: bytes.default(4 * 1024 ** 3),
  BODY_LIMIT_BYTES: bytes.default(1024 * 1024),
  /** Months of usage pivoted onto each customer at import, so window aggregates need no join. */
  USAGE_WINDOW_MONTHS: z.coerce.number().int().min(1).max(24).default(6),
  /** Mainland mobile numbers by default. */
  MSISDN_PATTERN: z
    .string()
    .default('^1[3-9][0-9]{9}$')
    .refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression'),
  QUERY_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * How previews and targeting funnels are answered: `bitmap` evaluates the condition as
   * roaring-bitmap algebra over column indexes and set bitmaps kept in memory and rebuilt when the
   * warehouse changes (src/segments/bitmaps), with DuckDB for what they do not serve; `sql`
   * compiles the whole condition into one DuckDB query. Both give the same answers (tests compare).
   */
  SEGMENT_ENGINE: z.enum(['sql', 'bitmap']).default('bitmap'),
  /**
   * Memory the bitmap engine may hold for bitmaps and the profile columns it evaluates field leaves
   * on (4–8 bytes a customer per column: 10M customers, the bench's realistic preview, ~0.5 GB).
   * Least recently used entries go beyond it.
   */
  BITMAP_CACHE_MB: z.coerce.number().int().min(1).default(1024),
  /** How often the bitmap engine checks whether the warehouse changed and, if so, rebuilds its bitmaps ahead of previews. */
  BITMAP_WARM_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
  CONDITION_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  CONDITION_MAX_NODES: z.coerce.number().int().min(1).default(500),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Failed authentications (no, unknown, revoked or expired key) per address a minute; past that its requests are refused before any key lookup. */
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /** Import the checked-in sample warehouse at start when the warehouse is empty. */
  LOAD_SAMPLE_DATA: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  RULES_DIR: z.string().min(1).default('./rules'),
  /** Per-customer results of targeting previews are dropped after this many days (funnels stay). */
  TARGETING_RETENTION_DAYS: z.coerce.number().int().min(1).default(7),
  /** Legal hours for marketing sends (`24:00` = end of day); a campaign may only narrow them. */
  SEND_WINDOW: z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'HH:MM-HH:MM').default('08:00-21:00'),
  SEND_TIMEZONE: z
    .string()
    .default('Asia/Shanghai')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'not an IANA time zone'),
  /** Marketing messages per number per local day, across campaigns and workers. */
  FREQUENCY_CAP_PER_DAY: z.coerce.number().int().min(1).default(1),
  /** `on`: a second operator approves a campaign before launch (four-eyes); `off` for a one-person install. */
  CAMPAIGN_APPROVAL: z.enum(['on', 'off']).default('on'),
  /** Start the SMSC simulator on loopback and register it as the gateway `simulator` (API process). */
  GATEWAY_SIMULATOR: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** 0: any free port. */
  GATEWAY_SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(2775),
  /** Recipients per send job. */
  SEND_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** Recipients claimed and submitted together inside a job (pause and the window are checked between chunks). */
  SEND_CHUNK_SIZE: z.coerce.number().int().min(1).max(5000).default(100),
  /** Send jobs one worker process runs at once. */
  SEND_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Rows left `sending` this long (a crashed worker) become `unknown`; never resent. */
  SENDING_TIMEOUT_SECONDS: z.coerce.number().int().min(5).default(300),
  /** An MMS campaign's content at most (subject, text parts as UTF-8, images decoded), checked when it is saved; 128 KB, the common MMSC limit. */
  MMS_MAX_BYTES: bytes.default(128 * 1024),
  /** Consecutive connection failures of a gateway that pause the campaigns sending through it. */
  GATEWAY_FAILURES_TO_PAUSE: z.coerce.number().int().min(1).default(5),
  /** How often each worker process reconciles running campaigns with the ledger. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(2000),
  /** Run the send workers inside the API process (`npm start`); `false` when `npm run worker` processes do it. */
  EMBEDDED_SEND_WORKERS: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
  /** Submitted messages with no final receipt after this many hours become `expired`. */
  RECEIPT_EXPIRY_HOURS: z.coerce.number().positive().default(72),
  /** A receipt whose gateway message id stays unknown this long goes to the dead letters. */
  RECEIPT_MATCH_GRACE_SECONDS: z.coerce.number().int().min(0).default(900),
  /** Replies that opt the number out (compared after normalisation: full width, case, surrounding spaces and punctuation). */
  OPT_OUT_KEYWORDS: keywords.default(['T', 'TD', 'N', 'R', '退订', 'STOP', 'UNSUBSCRIBE']),
  /** Replies that take the number off `opt_out` again. */
  RESUBSCRIBE_KEYWORDS: keywords.default(['START']),
  /** How often every worker process (and the API) applies pending receipts and replies. */
  FEEDBACK_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  /** Days after a customer's send (after the send time for the control group) in which an order of the campaign's product counts as its conversion. */
  ATTRIBUTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** What one message part costs (any currency unit); unset: reports show no cost figures. */
  MESSAGE_COST: z.coerce.number().min(0).optional(),
  /** Optional JSON file extending the default telecom catalog with datasets or columns. */
  CATALOG_EXTENSION: z.string().min(1).optional(),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the environment once; every problem is reported together, each naming its variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '?');
        return `${name}=${JSON.stringify(env[name] ?? null)}: ${issue.message}`;
      }),
    );
  }
  const config = parsed.data;
  return {
    ...config,
    DUCKDB_PATH: config.DUCKDB_PATH === ':memory:' ? config.DUCKDB_PATH : path.resolve(config.DUCKDB_PATH),
    IMPORT_DIR: path.resolve(config.IMPORT_DIR),
    UPLOAD_DIR: path.resolve(config.UPLOAD_DIR),
    RULES_DIR: path.resolve(config.RULES_DIR),
  };
}
