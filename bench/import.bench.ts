import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { FIXTURE_DATASETS, generateFixtures, type FixtureFormat } from '../fixtures/generate.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';

/**
 * Fixture generation, and imports of the two big datasets through the real import service
 * (staging, per-cell validation against the catalog, atomic swap, snapshot bump, profile rebuild,
 * import record in Postgres). The baseline is what DuckDB does with the same file and no checks at
 * all: `CREATE TABLE AS SELECT * FROM read_csv/read_parquet(...)`.
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

function importContainer(ctx: BenchContext, size: number) {
  return ctx.container(`import-${sizeLabel(size).toLowerCase()}`);
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
      await container.warehouse.write((c) =>
        c.run(`CREATE TABLE bench_raw_load AS SELECT * FROM ${reader}($1)`, [fixture.file(dataset, format)]),
      );
      return fixture.rows[dataset];
    },
  };
}

function importCase(size: number, dataset: (typeof IMPORTED)[number], format: FixtureFormat): BenchCase {
  const reader = format === 'csv' ? 'read_csv' : 'read_parquet';
  return {
    operation: `import ${dataset} (${format})`,
    size,
    baseline: `raw DuckDB ${reader} → table: ${dataset}`,
    async prepare(ctx) {
      const container = await importContainer(ctx, size);
      await container.warehouse.write((c) => c.run('DROP TABLE IF EXISTS bench_raw_load'));
    },
    async run(ctx) {
      const [container, fixture] = await Promise.all([importContainer(ctx, size), ctx.fixtures(size)]);
      const record = await container.imports.importFile(
        { dataset, path: fixture.file(dataset, format), format, mode: 'replace' },
        actor,
        { trustedPath: true, sourceLabel: `bench:${sizeLabel(size)}:${dataset}.${format}` },
      );
      return record.rowsLoaded;
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
    }
    return cases;
  },
};
