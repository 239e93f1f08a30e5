import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../src/config.js';
import { createContainer, type Container } from '../src/container.js';
import { createLogger } from '../src/logger.js';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { SAMPLE_DATASETS } from '../src/warehouse/sample.js';
import { FIXTURE_DATASETS, generateFixtures, type FixtureDataset } from '../fixtures/generate.js';
import { sizeLabel, type BenchContext, type FixtureSet } from './harness.js';
import { writeBenchLists } from './lists.js';
import { openPgBaseline, type PgBaseline } from './pg-baseline.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BENCH_ROOT = path.join(REPO, 'data', 'bench');
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/quanke_bench';
const SEED = 42;
const MONTHS = 6;

interface Manifest {
  customers: number;
  seed: number;
  months: number;
  fingerprint: string;
  rows: Record<FixtureDataset, number>;
  listRows: number;
  generatedMs: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `work` while holding `<target>.lock` (a file naming our pid), so two bench processes never
 * build the same cache at once; a lock left by a dead process is taken over.
 */
async function withLock<T>(target: string, log: (m: string) => void, work: () => Promise<T>): Promise<T> {
  const lock = `${target}.lock`;
  let announced = false;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (!Number.isInteger(holder) || !processAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (!announced) log(`waiting for bench process ${holder} to finish with ${path.basename(target)}`);
      announced = true;
      await sleep(2000);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * DuckDB lets one process open a file for writing. When another bench run holds it, wait for it
 * rather than fail half-way through building a container.
 */
async function waitForDuckdbFile(file: string, log: (m: string) => void): Promise<void> {
  let announced = false;
  for (;;) {
    try {
      const probe = await DuckDBInstance.create(file);
      probe.closeSync();
      return;
    } catch (error) {
      if (!/lock/i.test(String(error))) throw error;
      if (!announced) log(`waiting for another process to release ${path.basename(file)}`);
      announced = true;
      await sleep(5000);
    }
  }
}

/** The generator's own source: when it changes, cached fixtures and warehouses are rebuilt. */
function generatorFingerprint(): string {
  const hash = createHash('sha256');
  for (const file of ['fixtures/warehouse-sql.ts', 'fixtures/reference-data.ts', 'bench/lists.ts']) {
    hash.update(readFileSync(path.join(REPO, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

export function parseSizes(raw: string | undefined): number[] {
  const sizes = (raw ?? '1000000,10000000')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(s.replaceAll('_', ''));
      if (!match) throw new Error(`BENCH_CUSTOMERS: "${s}" is not a number (1000000, 1M or 500k)`);
      const unit = match[2]!.toLowerCase() === 'm' ? 1_000_000 : match[2]!.toLowerCase() === 'k' ? 1_000 : 1;
      return Math.round(Number(match[1]) * unit);
    });
  if (sizes.length === 0) throw new Error('BENCH_CUSTOMERS names no size');
  return sizes;
}

/**
 * The runner's implementation of `BenchContext`: caches fixtures on disk, Quanke containers and
 * Postgres baselines in memory, and closes them all in `close()`.
 */
export class RunnerContext implements BenchContext {
  readonly root = BENCH_ROOT;
  private readonly fixtureSets = new Map<number, Promise<FixtureSet>>();
  private readonly containers = new Map<string, Promise<Container>>();
  private readonly baselines = new Map<number, Promise<PgBaseline>>();
  private readonly temporary: string[] = [];
  private readonly fingerprint = generatorFingerprint();

  constructor(readonly sizes: number[]) {
    mkdirSync(this.root, { recursive: true });
  }

  log(message: string): void {
    console.error(`[bench] ${message}`);
  }

  fixtures(customers: number): Promise<FixtureSet> {
    let set = this.fixtureSets.get(customers);
    if (!set) {
      set = this.prepareFixtures(customers);
      this.fixtureSets.set(customers, set);
    }
    return set;
  }

  quanke(customers: number): Promise<Container> {
    const name = `warehouse-${sizeLabel(customers)}`;
    let container = this.containers.get(name);
    if (!container) {
      container = this.openLoaded(customers, name);
      this.containers.set(name, container);
    }
    return container;
  }

  container(name: string): Promise<Container> {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name) || name.startsWith('warehouse-')) throw new Error(`bad bench container name ${name}`);
    let container = this.containers.get(name);
    if (!container) {
      const file = path.join(this.root, `${name}.duckdb`);
      for (const f of [file, `${file}.wal`]) rmSync(f, { force: true });
      this.temporary.push(file, `${file}.wal`);
      container = this.open(file);
      this.containers.set(name, container);
    }
    return container;
  }

  pg(customers: number): Promise<PgBaseline> {
    let baseline = this.baselines.get(customers);
    if (!baseline) {
      baseline = Promise.all([this.fixtures(customers), this.quanke(customers)]).then(([f, container]) =>
        openPgBaseline(f, container, { databaseUrl: BENCH_DATABASE_URL, log: (m) => this.log(m) }),
      );
      this.baselines.set(customers, baseline);
    }
    return baseline;
  }

  scratch(name: string): string {
    const dir = path.join(this.root, 'tmp', name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    this.temporary.push(dir);
    return dir;
  }

  async close(): Promise<void> {
    const settle = async <T>(items: Iterable<Promise<T>>, end: (item: T) => Promise<void>) => {
      for (const item of items) await item.then(end, () => undefined);
    };
    await settle(this.containers.values(), (c) => c.close());
    await settle(this.baselines.values(), (b) => b.close());
    for (const p of this.temporary) rmSync(p, { recursive: true, force: true });
  }

  private async prepareFixtures(customers: number): Promise<FixtureSet> {
    const dir = path.join(this.root, 'fixtures', String(customers));
    mkdirSync(path.dirname(dir), { recursive: true });
    return withLock(dir, (m) => this.log(m), () => this.prepareFixturesLocked(customers, dir));
  }

  private async prepareFixturesLocked(customers: number, dir: string): Promise<FixtureSet> {
    const manifestFile = path.join(dir, 'manifest.json');
    const file = (dataset: FixtureDataset, format: 'csv' | 'parquet') => path.join(dir, `${dataset}.${format}`);
    const listsFile = path.join(dir, 'lists.csv');
    let manifest: Manifest | undefined;
    if (existsSync(manifestFile)) {
      const found = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
      const complete = FIXTURE_DATASETS.every((d) => existsSync(file(d, 'csv')) && existsSync(file(d, 'parquet'))) && existsSync(listsFile);
      if (complete && found.customers === customers && found.seed === SEED && found.months === MONTHS && found.fingerprint === this.fingerprint) {
        manifest = found;
      }
    }
    if (!manifest) {
      this.log(`generating the ${sizeLabel(customers)}-customer fixture into ${path.relative(REPO, dir)}`);
      rmSync(dir, { recursive: true, force: true });
      const started = performance.now();
      const { files } = await generateFixtures({ customers, out: dir, format: 'both', seed: SEED, months: MONTHS });
      const listRows = await writeBenchLists(file('customers', 'csv'), listsFile, SEED);
      const rows = Object.fromEntries(files.map((f) => [f.dataset, f.rows])) as Record<FixtureDataset, number>;
      manifest = { customers, seed: SEED, months: MONTHS, fingerprint: this.fingerprint, rows, listRows, generatedMs: Math.round(performance.now() - started) };
      writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
      this.log(`fixture ${sizeLabel(customers)} ready in ${(manifest.generatedMs / 1000).toFixed(1)} s`);
    }
    return {
      customers,
      seed: manifest.seed,
      months: manifest.months,
      dir,
      file,
      rows: manifest.rows,
      listsFile,
      listRows: manifest.listRows,
      fingerprint: manifest.fingerprint,
    };
  }

  private async open(duckdbPath: string): Promise<Container> {
    await waitForDuckdbFile(duckdbPath, (m) => this.log(m));
    const env = process.env;
    const config = loadConfig({
      ...env,
      LOG_LEVEL: env.BENCH_LOG_LEVEL ?? 'warn',
      DATABASE_URL: BENCH_DATABASE_URL,
      DUCKDB_PATH: duckdbPath,
      DUCKDB_MEMORY_LIMIT: env.DUCKDB_MEMORY_LIMIT ?? '8GB',
      // Loads of 10M customers and cold queries outlive the service's interactive timeout.
      QUERY_TIMEOUT_MS: env.BENCH_QUERY_TIMEOUT_MS ?? '900000',
      IMPORT_DIR: this.root,
      UPLOAD_DIR: path.join(this.root, 'uploads'),
      QUEUE_PREFIX: 'quanke-bench',
      LOAD_SAMPLE_DATA: 'false',
      RULES_DIR: path.join(REPO, 'rules'),
    });
    return createContainer(config, createLogger(config.LOG_LEVEL));
  }

  /** A container whose warehouse holds the fixture, imported through the import service once. */
  private async openLoaded(customers: number, name: string): Promise<Container> {
    const fixture = await this.fixtures(customers);
    const duckdbPath = path.join(this.root, `${name}.duckdb`);
    const markerFile = path.join(this.root, `${name}.json`);
    const marker = existsSync(markerFile) ? (JSON.parse(readFileSync(markerFile, 'utf8')) as { fingerprint?: string }) : {};
    const container = await this.open(duckdbPath);
    const snapshots = await container.warehouse.query<{ dataset: string; row_count: number }>('SELECT dataset, row_count FROM _snapshots');
    const counts = new Map(snapshots.map((s) => [s.dataset, s.row_count]));
    const loaded =
      marker.fingerprint === `${fixture.fingerprint}:${customers}` && FIXTURE_DATASETS.every((d) => counts.get(d) === fixture.rows[d]);
    if (!loaded) {
      rmSync(markerFile, { force: true });
      const actor = { ...SYSTEM_ACTOR, name: 'bench' };
      for (const dataset of SAMPLE_DATASETS) {
        const started = performance.now();
        await container.imports.importFile(
          { dataset, path: fixture.file(dataset, 'parquet'), format: 'parquet', mode: 'replace' },
          actor,
          { trustedPath: true, sourceLabel: `bench:${sizeLabel(customers)}:${dataset}.parquet` },
        );
        this.log(`${name}: imported ${dataset} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
      writeFileSync(markerFile, JSON.stringify({ fingerprint: `${fixture.fingerprint}:${customers}` }));
    }
    return container;
  }
}
