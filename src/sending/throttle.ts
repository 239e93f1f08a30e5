import type { Redis } from 'ioredis';

/**
 * One rate a send must respect, counted in message parts: a gateway's `ratePerSecond`
 * (`gateway:simulator`), a campaign's `throttle.perSecond` (`campaign:<id>`).
 * `perSecond` 0 or absent means unlimited.
 */
export interface ThrottleBucket {
  key: string;
  perSecond?: number;
}

export interface SendThrottleOptions {
  /** A connection of its own is best: a waiting `acquire` polls it. */
  redis: Redis;
  /** Bucket `k` lives at `<prefix>:<k>`, e.g. prefix `quanke:throttle`. */
  prefix: string;
}

/**
 * How far ahead of the schedule a bucket may grant: it absorbs the time a granted caller takes
 * to come back (timer and round-trip latency) so the rate is kept, and bounds the burst to
 * perSecond × 50 ms on top of one chunk.
 */
const TOLERANCE_MICROS = 50_000;

/**
 * Why a GCRA script and not rate-limiter-flexible's RateLimiterRedis, measured with two processes
 * × 4 concurrent callers taking 1 part at a time for 30 s at 500/s (scratch script, local Redis 7):
 * - RateLimiterRedis (fixed 1 s windows; it cannot do shorter ones, it rounds durations down to
 *   whole seconds): 15,000 granted (0 %), but each second's 500 went out within 100 ms and one
 *   sliding second saw 853 (+71 %), which a gateway throttling per second answers with
 *   ESME_RTHROTTLED. With `execEvenly` still 184 in one 100 ms (expected 50) and 533 per sliding
 *   second. Taking from a second bucket after the first refused also needs a refund, and a refund
 *   that lands after the window rolled over credits the next window: a leak.
 * - This script (GCRA, Redis's clock), same set-up: 14,948 (−0.35 %); with 8 callers × 2 parts
 *   14,884 (−0.77 %); at most 528 in any sliding second, 74 in any 100 ms (the tolerance, once,
 *   at the start). The shortfall is event-loop stalls longer than the tolerance on a loaded
 *   2-core machine: time nobody asked in is lost, never made up with a burst.
 *
 * GCRA keeps one number per bucket, the theoretical arrival time (TAT) of the next part: a request
 * conforms when TAT − now ≤ tolerance, and then moves TAT on by points × (1 s / perSecond). All
 * buckets are checked, then all charged, in one script: a refused request takes nothing from any
 * bucket, so there is nothing to give back. Admission does not depend on the request's size (the
 * bucket goes into debt that later callers wait out), so a large chunk is not starved by small
 * ones the way it is in a token bucket. TIME is Redis's, so workers on machines whose clocks
 * disagree still share one schedule.
 *
 * KEYS: the buckets. ARGV[1]: points; ARGV[2]: tolerance (µs); ARGV[2 + i]: µs per point of KEYS[i].
 * Returns 0 when granted, else the µs to wait before asking again.
 */
const GCRA_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local points = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tats = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  tats[i] = tat
  if tat - now - tolerance > wait then wait = tat - now - tolerance end
end
if wait > 0 then return math.ceil(wait) end
for i, key in ipairs(KEYS) do
  local tat = tats[i] + points * tonumber(ARGV[2 + i])
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return 0
`;

const COMMAND = 'quankeSendThrottle';

type ThrottleRedis = Redis & { [COMMAND](numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<number> };

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function untilSettled(promise: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise.then(() => undefined);
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}

/** A send rate shared by every worker process through Redis, counted in message parts. */
export class SendThrottle {
  private readonly redis: ThrottleRedis;
  private readonly prefix: string;
  /**
   * Callers of one process on the same buckets queue here first (first come, first served), so a
   * process polls Redis with one request per bucket set rather than one per waiting caller.
   */
  private readonly lanes = new Map<string, Promise<void>>();

  constructor(options: SendThrottleOptions) {
    this.redis = options.redis as ThrottleRedis;
    this.prefix = options.prefix;
    this.redis.defineCommand(COMMAND, { lua: GCRA_SCRIPT });
  }

  /**
   * Resolves once every bucket has granted `points`. Requests larger than the smallest limit go in
   * chunks of at most that limit, so they progress instead of never fitting. Unlimited buckets
   * (and no limited bucket at all) never wait. An abort rejects with the signal's reason; chunks
   * already granted stay spent (the throttle errs on the slow side, never the fast).
   */
  async acquire(buckets: readonly ThrottleBucket[], points: number, signal?: AbortSignal): Promise<void> {
    if (!Number.isInteger(points) || points < 0) throw new RangeError(`points must be a whole number ≥ 0, not ${points}`);
    const limited = buckets.filter((bucket): bucket is Required<ThrottleBucket> => (bucket.perSecond ?? 0) > 0);
    if (limited.length === 0 || points === 0) return;
    signal?.throwIfAborted();

    const laneKey = limited
      .map((bucket) => bucket.key)
      .sort()
      .join('\n');
    const ahead = this.lanes.get(laneKey) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const lane = ahead.then(() => mine);
    this.lanes.set(laneKey, lane);
    try {
      await untilSettled(ahead, signal);
      await this.take(limited, points, signal);
    } finally {
      leave();
      if (this.lanes.get(laneKey) === lane) this.lanes.delete(laneKey);
    }
  }

  private async take(buckets: readonly Required<ThrottleBucket>[], points: number, signal?: AbortSignal): Promise<void> {
    const keys = buckets.map((bucket) => `${this.prefix}:${bucket.key}`);
    const microsPerPoint = buckets.map((bucket) => 1_000_000 / bucket.perSecond);
    const chunk = Math.max(1, Math.floor(Math.min(...buckets.map((bucket) => bucket.perSecond))));
    for (let left = points; left > 0; ) {
      const size = Math.min(left, chunk);
      signal?.throwIfAborted();
      const waitMicros = await this.redis[COMMAND](keys.length, ...keys, size, TOLERANCE_MICROS, ...microsPerPoint);
      if (waitMicros === 0) left -= size;
      else await sleep(Math.ceil(waitMicros / 1000), signal);
    }
  }
}
