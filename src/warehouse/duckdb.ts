import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { AppError } from '../http/errors.js';

export type SqlParams = DuckDBValue[];
export type Row = Record<string, unknown>;

export interface WarehouseOptions {
  path: string;
  memoryLimit: string;
  threads: number;
  readConnections: number;
  queryTimeoutMs: number;
}

export interface ReadOptions {
  /** Cancel the query (DuckDB interrupt) after this long; waiting for a free connection counts. */
  timeoutMs?: number;
}

/** Observes every analytical query (metrics); set by the composition root. */
export type QueryObserver = (kind: 'read' | 'write', seconds: number, ok: boolean) => void;

/**
 * The one owner of the DuckDB file. Reads run on a bounded pool of connections (the concurrency
 * cap); writes are serialised on one connection. DuckDB's MVCC gives every read the snapshot that
 * was committed when it started, so an import swapping a table never disturbs a running preview.
 */
export class Warehouse {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: Array<(c: DuckDBConnection) => void> = [];
  private writeChain: Promise<unknown> = Promise.resolve();
  private closed = false;
  observer: QueryObserver | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    readers: DuckDBConnection[],
    private readonly options: WarehouseOptions,
  ) {
    this.idle.push(...readers);
  }

  static async open(options: WarehouseOptions): Promise<Warehouse> {
    if (options.path !== ':memory:') mkdirSync(path.dirname(options.path), { recursive: true });
    const instance = await DuckDBInstance.create(options.path, {
      memory_limit: options.memoryLimit,
      threads: String(options.threads),
    });
    const writer = await instance.connect();
    const readers: DuckDBConnection[] = [];
    for (let i = 0; i < options.readConnections; i++) readers.push(await instance.connect());
    return new Warehouse(instance, writer, readers, options);
  }

  /** Runs `work` on a pooled read connection, cancelling it when it outlives the timeout. */
  async read<T>(work: (connection: DuckDBConnection) => Promise<T>, options: ReadOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.options.queryTimeoutMs;
    const started = performance.now();
    const connection = await this.acquire(timeoutMs);
    const remaining = Math.max(1, timeoutMs - (performance.now() - started));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.interrupt();
    }, remaining);
    let ok = false;
    try {
      const result = await work(connection);
      ok = true;
      return result;
    } catch (error) {
      if (timedOut) throw new AppError('QUERY_TIMEOUT', `The query was cancelled after ${timeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
      this.observer?.('read', (performance.now() - started) / 1000, ok);
      this.release(connection);
    }
  }

  /** Rows of one read query, with BIGINT and DECIMAL values as plain numbers. */
  async query<T extends Row = Row>(sql: string, params: SqlParams = [], options?: ReadOptions): Promise<T[]> {
    return this.read(async (c) => toPlainRows<T>((await c.runAndReadAll(sql, params)).getRowObjectsJS()), options);
  }

  /** Serialises `work` with every other write on the single write connection. */
  write<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.writeChain.then(async () => {
      if (this.closed) throw new Error('warehouse is closed');
      const started = performance.now();
      let ok = false;
      try {
        const result = await work(this.writer);
        ok = true;
        return result;
      } finally {
        this.observer?.('write', (performance.now() - started) / 1000, ok);
      }
    });
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  /** A serialised write inside one DuckDB transaction: all of it commits, or none of it. */
  transaction<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.write(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const result = await work(c);
        await c.run('COMMIT');
        return result;
      } catch (error) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', [], { timeoutMs: 2000 });
  }

  /** Waits for running writes, then closes every connection and the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.writeChain;
    this.closed = true;
    this.writer.closeSync();
    for (const c of this.idle) c.closeSync();
    this.instance.closeSync();
  }

  private acquire(timeoutMs: number): Promise<DuckDBConnection> {
    if (this.closed) return Promise.reject(new Error('warehouse is closed'));
    const free = this.idle.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter = (c: DuckDBConnection) => {
        clearTimeout(timer);
        resolve(c);
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new AppError('BUSY', `All ${this.options.readConnections} query slots stayed busy for ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push(waiter);
    });
  }

  private release(connection: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next) next(connection);
    else this.idle.push(connection);
  }
}

/** DuckDB hands back BIGINT as bigint and DECIMAL as number already; ids here stay below 2^53. */
export function toPlainRows<T extends Row>(rows: Record<string, unknown>[]): T[] {
  for (const row of rows) {
    for (const key in row) {
      const value = row[key];
      if (typeof value === 'bigint') row[key] = Number(value);
    }
  }
  return rows as T[];
}

/** Double-quotes an identifier; only ever applied to names that come from the catalog or our own ids. */
export function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`refusing unsafe identifier ${JSON.stringify(name)}`);
  return `"${name}"`;
}
