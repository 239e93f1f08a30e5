import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import { maskMsisdn } from '../security/mask.js';
import { toStorableText } from '../util/storable-text.js';
import type { GatewayReceipt, MoMessage } from './gateway.js';
import { insertGatewayReceipts, insertMoMessages } from './gateway.repository.js';

export interface FeedbackSinkOptions {
  db: Db;
  logger: Logger;
  /** Buffered items that start a flush at once (default 1000). */
  batchSize?: number;
  /** Longest an item waits in the buffer (default 200 ms). */
  flushIntervalMs?: number;
  /** Longest wait between retries of a failed flush (default 5 s). */
  retryMaxMs?: number;
  /** Flush attempts `close()` makes before giving up (default 5). */
  closeAttempts?: number;
}

// Rows per INSERT: an outage's backlog is written in statements of a bounded size.
const ROWS_PER_INSERT = 5_000;

/**
 * Postgres refuses these SQLSTATE classes for what a row holds (22 data exception, 23 integrity):
 * retrying the same rows cannot help, so the batch is split to write every row that can be.
 */
function isRowProblem(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

interface FeedbackBuffer<T> {
  readonly kind: 'receipt' | 'mo';
  items: T[];
  readonly write: (db: Db, items: readonly T[]) => Promise<void>;
  readonly describe: (item: T) => Record<string, unknown>;
}

/**
 * Receipts and MO messages from every gateway adapter of the process, written to
 * `gateway_receipts` / `mo_messages` in batches: an SMSC delivering thousands of receipts a second
 * must not cost a transaction each. Adapters keep no backlog, so neither does a failed flush lose
 * anything: the items go back to the front of the buffer and the flush is retried with backoff.
 */
export class FeedbackSink {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly retryMaxMs: number;
  private readonly closeAttempts: number;
  private readonly receipts: FeedbackBuffer<GatewayReceipt> = {
    kind: 'receipt',
    items: [],
    write: insertGatewayReceipts,
    describe: (r) => ({ gateway: r.gateway, gatewayMessageId: r.gatewayMessageId, status: r.status }),
  };
  private readonly mo: FeedbackBuffer<MoMessage> = {
    kind: 'mo',
    items: [],
    write: insertMoMessages,
    describe: (m) => ({ gateway: m.gateway, msisdn: maskMsisdn(m.msisdn) }),
  };
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** A flush is queued and has not yet taken the buffers: more items need no second one. */
  private flushQueued = false;
  /** Items taken from a buffer by the running write and not yet settled. */
  private inWrite = 0;
  private failures = 0;
  private closed = false;

  constructor(options: FeedbackSinkOptions) {
    this.db = options.db;
    this.logger = options.logger.child({ component: 'feedback-sink' });
    this.batchSize = options.batchSize ?? 1_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
    this.closeAttempts = options.closeAttempts ?? 5;
  }

  addReceipt(receipt: GatewayReceipt): void {
    this.add(this.receipts, {
      gateway: receipt.gateway,
      gatewayMessageId: toStorableText(receipt.gatewayMessageId),
      status: toStorableText(receipt.status),
      errorCode: receipt.errorCode === null ? null : toStorableText(receipt.errorCode),
      doneAt: validDate(receipt.doneAt),
      receivedAt: validDate(receipt.receivedAt) ?? new Date(),
    });
  }

  addMo(message: MoMessage): void {
    this.add(this.mo, {
      gateway: message.gateway,
      msisdn: toStorableText(message.msisdn),
      to: toStorableText(message.to),
      // A binary or badly decoded MO may carry NUL, which a text column refuses.
      text: toStorableText(message.text),
      receivedAt: validDate(message.receivedAt) ?? new Date(),
    });
  }

  /** Items not yet written: buffered, or in a write that has not finished. */
  get pending(): number {
    return this.receipts.items.length + this.mo.items.length + this.inWrite;
  }

  /**
   * Writes everything buffered, after any flush already running. Rejects when a write failed; the
   * unwritten items stay buffered and a retry is scheduled.
   */
  flush(): Promise<void> {
    this.flushQueued = true;
    const run = this.writing.catch(() => undefined).then(() => this.writeAll());
    this.writing = run;
    // Whoever asked, a failed flush schedules its own retry: the caller may not try again.
    run.catch((error: unknown) => this.retryLater(error));
    return run;
  }

  /** Stops the timer and writes what is left, retrying a few times before it reports what it could not write. */
  async close(): Promise<void> {
    this.closed = true;
    for (let attempt = 1; ; attempt += 1) {
      this.clearTimer();
      try {
        await this.flush();
        return;
      } catch (error) {
        if (attempt >= this.closeAttempts) {
          this.logger.error({ err: error, pending: this.pending }, 'feedback lost at close: the database refused the last flush');
          throw new Error(`${this.pending} receipts and MO messages could not be written before closing`, { cause: error });
        }
        await sleep(this.backoffMs(attempt));
      }
    }
  }

  private add<T>(buffer: FeedbackBuffer<T>, item: T): void {
    buffer.items.push(item);
    if (this.closed) {
      // Adapters are closed before the sink; whatever still arrives is written now or logged as lost.
      this.logger.warn({ kind: buffer.kind }, 'feedback arrived after the sink closed');
      this.flushInBackground();
      return;
    }
    if (this.flushQueued) return;
    // After a failure the retry timer decides when to try again, however full the buffer.
    if (this.pending >= this.batchSize && this.failures === 0) this.flushInBackground();
    else this.timer ??= setTimeout(() => this.flushInBackground(), this.flushIntervalMs);
  }

  private flushInBackground(): void {
    this.clearTimer();
    this.flush().catch(() => undefined); // handled by retryLater
  }

  private retryLater(error: unknown): void {
    this.failures += 1;
    const delay = this.backoffMs(this.failures);
    this.logger.error({ err: error, pending: this.pending, failures: this.failures, retryInMs: delay }, 'feedback flush failed');
    if (!this.closed) this.timer ??= setTimeout(() => this.flushInBackground(), delay);
  }

  private async writeAll(): Promise<void> {
    this.flushQueued = false;
    this.clearTimer();
    await this.drain(this.receipts);
    await this.drain(this.mo);
    this.failures = 0;
  }

  /** Writes the buffer's items in order; on failure puts the unwritten ones back in front of what arrived meanwhile. */
  private async drain<T>(buffer: FeedbackBuffer<T>): Promise<void> {
    const items = buffer.items;
    buffer.items = [];
    this.inWrite = items.length;
    const progress = { done: 0 };
    try {
      while (progress.done < items.length) {
        await this.writeBatch(buffer, items.slice(progress.done, progress.done + ROWS_PER_INSERT), progress);
      }
    } catch (error) {
      buffer.items = items.slice(progress.done).concat(buffer.items);
      throw error;
    } finally {
      this.inWrite = 0;
    }
  }

  /**
   * One INSERT. When Postgres refuses a row's content, halves the batch until the bad rows stand
   * alone and drops those (logged): one unstorable item must not hold back every later one.
   * `progress.done` counts the items settled, in order, so a failure half-way writes nothing twice.
   */
  private async writeBatch<T>(buffer: FeedbackBuffer<T>, batch: readonly T[], progress: { done: number }): Promise<void> {
    try {
      await buffer.write(this.db, batch);
      progress.done += batch.length;
    } catch (error) {
      if (!isRowProblem(error)) throw error;
      if (batch.length === 1) {
        this.logger.error({ err: error, kind: buffer.kind, ...buffer.describe(batch[0]!) }, 'feedback item refused by the database, dropped');
        progress.done += 1;
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.writeBatch(buffer, batch.slice(0, half), progress);
      await this.writeBatch(buffer, batch.slice(half), progress);
    }
  }

  private backoffMs(failures: number): number {
    return Math.min(this.retryMaxMs, this.flushIntervalMs * 2 ** Math.min(failures, 16));
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function validDate(date: Date | null): Date | null {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
