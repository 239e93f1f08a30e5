import type { Container } from '../src/container.js';
import type { FixtureDataset, FixtureFormat } from '../fixtures/generate.js';
import type { PgBaseline } from './pg-baseline.js';

/**
 * The contract between `bench/run.ts` and the `bench/*.bench.ts` files. A bench file exports
 * `export const bench: BenchSuite`; the runner times each case and prints one table.
 */

/** What a run may report: nothing, or the number of rows it processed (for rows/s). */
export type RunOutcome = void | number | { rows: number };

export interface BenchCase {
  /** What is measured, e.g. `import customers (csv)`. Unique within the suite for a given size. */
  operation: string;
  /** Number of customers of the fixture the case runs on. */
  size: number;
  /** Rows processed per run, for rows/s; a run may return it instead. */
  rows?: number;
  /** The operation, at the same size and in the same suite, this one is compared with ("× faster"). */
  baseline?: string;
  /**
   * Timed runs. Unset: adaptive — the first run is timed; if it took at least BENCH_SLOW_MS it is
   * the only measurement (a multi-second load), else it was the warm-up and BENCH_RUNS runs follow.
   */
  runs?: number;
  /**
   * The issue's target for this operation at this size (median, or `p95` of the run): the table
   * prints it and whether the run met it. A target is reported, never enforced.
   */
  target?: { ms: number; of?: 'median' | 'p95' };
  /** Untimed work before every run (e.g. dropping what the previous run created). */
  prepare?(ctx: BenchContext): Promise<void>;
  run(ctx: BenchContext): Promise<RunOutcome>;
}

export interface BenchSuite {
  name: string;
  /** Once before the cases; heavy shared preparation (loading a warehouse) belongs here or in ctx caches. */
  setup?(ctx: BenchContext): Promise<void>;
  /** The cases, or a function building them from the sizes asked for (`ctx.sizes`). */
  cases: BenchCase[] | ((ctx: BenchContext) => BenchCase[] | Promise<BenchCase[]>);
  teardown?(ctx: BenchContext): Promise<void>;
}

/** One generated fixture, cached under `data/bench/fixtures/<customers>`. */
export interface FixtureSet {
  customers: number;
  seed: number;
  months: number;
  dir: string;
  /** Absolute path of a dataset's file in a format. */
  file(dataset: FixtureDataset, format: FixtureFormat): string;
  /** Rows of each dataset. */
  rows: Record<FixtureDataset, number>;
  /** `lists.csv` (list_name, msisdn, reason, expires_at): special lists drawn from the customers; see bench/lists.ts. */
  listsFile: string;
  listRows: number;
  /** Changes when the generator changes, so caches built from an older generator are rebuilt. */
  fingerprint: string;
}

export interface BenchContext {
  /** Customer counts to run at (env BENCH_CUSTOMERS, default 1M and 10M). */
  sizes: number[];
  /** `data/bench`, absolute. */
  root: string;
  /** The fixture of `customers` customers (both formats, plus the lists file), generated once and cached. */
  fixtures(customers: number): Promise<FixtureSet>;
  /**
   * A real Quanke container (bench Postgres `quanke_bench`, DuckDB `data/bench/warehouse-<size>.duckdb`)
   * whose warehouse holds the fixture of that size, imported through the import service once and
   * kept between bench runs. Shared by every suite; closed by the runner.
   */
  quanke(customers: number): Promise<Container>;
  /**
   * An empty Quanke container on its own DuckDB file `data/bench/<name>.duckdb` (deleted when the
   * runner ends), for benches that import or write.
   */
  container(name: string): Promise<Container>;
  /**
   * The same-work Postgres baseline for that size: the warehouse of `quanke(customers)` copied into
   * `quanke_bench` (kept until the warehouse changes), queried with Quanke's SQL through the
   * Postgres dialect. Ask for it once the warehouse holds what the cases read.
   */
  pg(customers: number): Promise<PgBaseline>;
  /** A scratch folder under `data/bench/tmp`, removed when the runner ends. */
  scratch(name: string): string;
  log(message: string): void;
}

export interface BenchResult {
  suite: string;
  operation: string;
  size: number;
  runs: number;
  medianMs: number;
  p95Ms: number;
  rows: number | null;
  rowsPerSecond: number | null;
  baseline: string | null;
  /** Baseline median / this median: how many times faster this is than its baseline. */
  ratio: number | null;
  target?: { ms: number; of?: 'median' | 'p95' } | null;
  error?: string;
}

/** `1000000` → `1M`, `2000` → `2k`. */
export function sizeLabel(customers: number): string {
  if (customers >= 1_000_000 && customers % 100_000 === 0) return `${customers / 1_000_000}M`;
  if (customers >= 1_000 && customers % 100 === 0) return `${customers / 1_000}k`;
  return String(customers);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile: with 5 runs, p95 is the slowest. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function outcomeRows(outcome: RunOutcome): number | undefined {
  if (typeof outcome === 'number') return outcome;
  if (outcome && typeof outcome === 'object') return outcome.rows;
  return undefined;
}
