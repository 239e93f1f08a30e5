import cliProgress from 'cli-progress';
import type { CampaignStatus } from '../db/schema.js';
import type { CampaignView, Progress } from './campaign.schemas.js';

/** States a watch ends in: nothing moves from here without someone acting. */
const RESTING_STATES: readonly CampaignStatus[] = ['completed', 'cancelled', 'failed', 'paused'];

export interface WatchOptions {
  /** How often the campaign is read again (default 500 ms). */
  intervalMs?: number;
  /** Where the bar is drawn (default stdout). Off a terminal it prints one line a second instead. */
  stream?: NodeJS.WriteStream;
  /** Sending with nothing done for this long adds a hint on what may be missing (default 15 s). */
  stallSeconds?: number;
  /** Stops watching (Ctrl-C); the campaign itself carries on. */
  signal?: AbortSignal;
}

/** Recipients that left the queue for good: every state but queued and sending. */
export function doneOf(progress: Progress): number {
  return progress.total - progress.queued - progress.sending;
}

export function formatEta(seconds: number | null): string {
  if (seconds === null) return '?';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * Draws a campaign's progress until it rests (completed, cancelled, failed or paused) and returns
 * the last reading. `read` is the one source, so the CLI's direct and API paths and the demo share
 * this. A campaign that was never launched has no progress: it is returned at once.
 */
export async function watchCampaign(read: () => Promise<CampaignView>, options: WatchOptions = {}): Promise<CampaignView> {
  const intervalMs = options.intervalMs ?? 500;
  const stallMs = (options.stallSeconds ?? 15) * 1000;
  let view = await read();
  if (!view.progress) return view;
  const bar = new cliProgress.SingleBar({
    stream: options.stream ?? process.stdout,
    format: '{bar} {percentage}% | {value}/{total} | {rate}/s | ETA {etaText} | {status}{note}',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 1000,
  });
  const rate = new WatchedRate();
  const payload = (v: CampaignView & { progress: Progress }, note: string) => {
    const measured = rate.observe(Date.now(), doneOf(v.progress)) ?? v.progress.ratePerSecond;
    const owed = v.progress.queued + v.progress.sending;
    return {
      status: v.status,
      rate: measured.toFixed(1),
      // Not `eta`: cli-progress computes its own under that name, from the bar's values alone.
      etaText: formatEta(owed === 0 ? 0 : measured > 0 ? Math.ceil(owed / measured) : v.progress.etaSeconds),
      note,
    };
  };
  bar.start(view.progress.total, doneOf(view.progress), payload({ ...view, progress: view.progress }, ''));
  let lastDone = doneOf(view.progress);
  let lastMovedAt = Date.now();
  try {
    while (!RESTING_STATES.includes(view.status) && !options.signal?.aborted) {
      await sleep(intervalMs, options.signal);
      if (options.signal?.aborted) break;
      view = await read();
      if (!view.progress) break;
      const done = doneOf(view.progress);
      if (done !== lastDone) {
        lastDone = done;
        lastMovedAt = Date.now();
      }
      bar.setTotal(view.progress.total);
      bar.update(done, payload({ ...view, progress: view.progress }, noteFor(view, Date.now() - lastMovedAt >= stallMs)));
    }
  } finally {
    bar.stop();
  }
  return view;
}

/**
 * The rate the watcher itself sees over the last few seconds. The ledger's `ratePerSecond` averages
 * the last 10 s, so for a campaign that just started it reads far below the throttle; once the
 * watch has seen a second, its own measure wins.
 */
class WatchedRate {
  private readonly readings: Array<{ at: number; done: number }> = [];

  constructor(
    private readonly windowMs = 5_000,
    private readonly minimumSpanMs = 750,
  ) {}

  observe(at: number, done: number): number | undefined {
    this.readings.push({ at, done });
    while (this.readings.length > 2 && at - this.readings[1]!.at >= this.windowMs) this.readings.shift();
    const first = this.readings[0]!;
    const span = at - first.at;
    return span >= this.minimumSpanMs ? ((done - first.done) * 1000) / span : undefined;
  }
}

function noteFor(view: CampaignView, stalled: boolean): string {
  if (view.status === 'scheduled' && view.sendAt) return ` (starts ${view.sendAt})`;
  if (view.statusReason) return ` (${view.statusReason})`;
  // The two usual reasons a launched campaign sits still; the ledger cannot tell which.
  if (stalled && view.status === 'sending') return ' (nothing sent lately: outside SEND_WINDOW, or no send worker running?)';
  return '';
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
