import os from 'node:os';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { FIXTURE_DATASETS, generateFixtures, type FixtureFormat } from '../fixtures/generate.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';

/**
 * Fixture generation, and imports of the two big datasets through the real import service
 * (per-cell validation against the catalog, atomic swap, snapshot bump, profile rebuild, import
 * record in Postgres). The baseline is what DuckDB does with the same file and no checks at all:
 * `CREATE TABLE AS SELECT * FROM read_csv/read_parquet(...)`; each import logs its ratio to the
 * latest raw load of that file (issue 16's target for customers: ≤ 1.3×) and the load average.
 *
 * Customers are imported twice: first into an empty warehouse (the usage pivot is empty, as in
 * earlier runs of this bench), then again once usage is loaded, which is the import analysts run:
 * the profile it writes carries the usage window's columns too.
 */

const IMPORTED = ['customers', 'usage_monthly'] as const;
const FORMATS: FixtureFormat[] = ['csv', 'parquet'];

/**
 * Above this many customers the CSV import of usage_monthly (6 rows per customer; ~6 min at 10M
 * on this machine) runs only with BENCH_FULL=1, so a default `npm run bench` stays within budget.
 */
const FULL_ONLY_ABOVE = 1_000_000;

function included(size: number, dataset: (typeof IMPORTED)[number], format: FixtureFormat): boolean {
  if (process.env.BENCH_FULL === '1' || size <= FULL_ONLY_ABOVE) return true;
  return !(dataset === 'usage_monthly' && format === 'csv');
}

const actor = { ...SYSTEM_ACTOR, name: 'bench' };

/** The latest raw load of each file (`size:dataset:format`), for the imports' ratio. */
const rawLoads = new Map<string, Measured>();

/**
 * Wall time, and the CPU time of this process (DuckDB's threads run in it): on a shared machine
 * the wall time swings with the load, the CPU time much less, so the log gives both ratios.
 */
interface Measured {
  ms: number;
  cpuMs: number;
}

async function measured(work: () => Promise<unknown>): Promise<Measured> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return { ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

function seconds(m: Measured): string {
  return `${(m.ms / 1000).toFixed(1)} s (cpu ${(m.cpuMs / 1000).toFixed(1)} s)`;
}

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/**
 * The bench's own warehouse, with the bitmap warmer stopped: it would otherwise rebuild its bitmaps
 * after every import, in this process, while the next case is being timed.
 */
async function importContainer(ctx: BenchContext, size: number) {
  const container = await ctx.container(`import-${sizeLabel(size).toLowerCase()}`);
  await container.bitmaps.warmer.stop();
  return container;
}

function generationCase(size: number): BenchCase {
  return {
    operation: 'generate fixtures (6 datasets, csv)',
    size,
    runs: 1,
    async run(ctx) {
      const { files } = await generateFixtures({ customers: size, out: ctx.scratch(`generate-${size}`), format: 'csv', seed: 42, months: 6 });
      return files.reduce((sum, f) => sum + f.rows, 0);
    },
  };
}

function rawLoadCase(size: number, dataset: (typeof IMPORTED)[number], format: FixtureFormat): BenchCase {
  const reader = format === 'csv' ? 'read_csv' : 'read_parquet';
  return {
    operation: `raw DuckDB ${reader} → table: ${dataset}`,
    size,
    async prepare(ctx) {
      const container = await importContainer(ctx, size);
      await container.warehouse.write((c) => c.run('DROP TABLE IF EXISTS bench_raw_load'));
    },
    async run(ctx) {
      const [container, fixture] = await Promise.all([importContainer(ctx, size), ctx.fixtures(size)]);
      const raw = await measured(() =>
        container.warehouse.write((c) => c.run(`CREATE TABLE bench_raw_load AS SELECT * FROM ${reader}($1)`, [fixture.file(dataset, format)])),
      );
      rawLoads.set(`${size}:${dataset}:${format}`, raw);
      ctx.log(`raw ${reader} ${dataset} @ ${sizeLabel(size)}: ${seconds(raw)}; load average ${loadAverage()}`);
      return fixture.rows[dataset];
    },
  };
}

function importCase(size: number, dataset: (typeof IMPORTED)[number], format: FixtureFormat, withUsage = false): BenchCase {
  const reader = format === 'csv' ? 'read_csv' : 'read_parquet';
  const operation = `import ${dataset} (${format})${withUsage ? ', usage loaded' : ''}`;
  return {
    operation,
    size,
    baseline: `raw DuckDB ${reader} → table: ${dataset}`,
    async prepare(ctx) {
      const container = await importContainer(ctx, size);
      await container.warehouse.write((c) => c.run('DROP TABLE IF EXISTS bench_raw_load'));
    },
    async run(ctx) {
      const [container, fixture] = await Promise.all([importContainer(ctx, size), ctx.fixtures(size)]);
      let rows = 0;
      const imported = await measured(async () => {
        const record = await container.imports.importFile(
          { dataset, path: fixture.file(dataset, format), format, mode: 'replace' },
          actor,
          { trustedPath: true, sourceLabel: `bench:${sizeLabel(size)}:${dataset}.${format}` },
        );
        rows = record.rowsLoaded;
      });
      const raw = rawLoads.get(`${size}:${dataset}:${format}`);
      const ratio = raw
        ? `${(imported.ms / raw.ms).toFixed(2)}× the raw load's wall time, ${(imported.cpuMs / raw.cpuMs).toFixed(2)}× its cpu (raw ${seconds(raw)})`
        : 'no raw load measured';
      ctx.log(`${operation} @ ${sizeLabel(size)}: ${seconds(imported)} = ${ratio}; load average ${loadAverage()}`);
      return rows;
    },
  };
}

export const bench: BenchSuite = {
  name: 'import',
  async setup(ctx) {
    // Generated (or found in the cache) before anything is timed.
    for (const size of ctx.sizes) {
      const fixture = await ctx.fixtures(size);
      ctx.log(`fixture ${sizeLabel(size)}: ${FIXTURE_DATASETS.map((d) => `${d} ${fixture.rows[d].toLocaleString('en')}`).join(', ')}`);
    }
  },
  cases(ctx) {
    const cases: BenchCase[] = [];
    for (const size of ctx.sizes) {
      cases.push(generationCase(size));
      // Customers first: the usage import rebuilds the profile, which joins the customers.
      for (const dataset of IMPORTED) {
        for (const format of FORMATS) {
          if (!included(size, dataset, format)) continue;
          cases.push(rawLoadCase(size, dataset, format));
          cases.push(importCase(size, dataset, format));
        }
      }
      // Customers again, now that the profile joins a full usage window: the raw load just before
      // each import, so both run under the same load.
      for (const format of FORMATS) {
        cases.push({ ...rawLoadCase(size, 'customers', format), operation: `raw DuckDB ${format === 'csv' ? 'read_csv' : 'read_parquet'} → table: customers (again)` });
        cases.push({ ...importCase(size, 'customers', format, true), baseline: `raw DuckDB ${format === 'csv' ? 'read_csv' : 'read_parquet'} → table: customers (again)` });
      }
    }
    return cases;
  },
};
