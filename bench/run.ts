import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as aq from 'arquero';
import { BENCH_ROOT, parseSizes, RunnerContext } from './context.js';
import { median, outcomeRows, percentile, sizeLabel, type BenchCase, type BenchResult, type BenchSuite } from './harness.js';

/**
 * `npm run bench [-- name …]`: runs `bench/<name>.bench.ts` (all of them when none is named), prints
 * one table and writes `data/bench/latest.json` (and a dated copy under `data/bench/history/`).
 *
 * Environment: BENCH_CUSTOMERS (sizes, default `1000000,10000000`; `1M`, `500k` accepted),
 * BENCH_RUNS (timed runs of a fast case, default 5), BENCH_SLOW_MS (a first run at least this long
 * is a multi-second load, measured once; default 2000).
 */

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}

async function loadSuites(names: string[]): Promise<BenchSuite[]> {
  const available = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
  const unknown = names.filter((n) => !available.includes(n));
  if (unknown.length > 0) throw new Error(`no bench named ${unknown.join(', ')} (have: ${available.join(', ')})`);
  const chosen = names.length > 0 ? names : available;
  const suites: BenchSuite[] = [];
  for (const name of chosen) {
    const module = (await import(pathToFileURL(path.join(BENCH_DIR, `${name}.bench.ts`)).href)) as { bench?: BenchSuite };
    if (!module.bench) throw new Error(`bench/${name}.bench.ts does not export \`bench\``);
    suites.push(module.bench);
  }
  return suites;
}

async function timeCase(
  suite: BenchSuite,
  testCase: BenchCase,
  ctx: RunnerContext,
  settings: { runs: number; slowMs: number },
): Promise<BenchResult> {
  const base = { suite: suite.name, operation: testCase.operation, size: testCase.size, baseline: testCase.baseline ?? null, target: testCase.target ?? null };
  const times: number[] = [];
  let rows = testCase.rows;
  const once = async () => {
    await testCase.prepare?.(ctx);
    const started = performance.now();
    const outcome = await testCase.run(ctx);
    const ms = performance.now() - started;
    rows = outcomeRows(outcome) ?? rows;
    return ms;
  };
  try {
    if (testCase.runs !== undefined) {
      for (let i = 0; i < testCase.runs; i++) times.push(await once());
    } else {
      const first = await once();
      if (first >= settings.slowMs) times.push(first);
      else for (let i = 0; i < settings.runs; i++) times.push(await once());
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(`${suite.name} / ${testCase.operation} @ ${sizeLabel(testCase.size)} FAILED: ${message}`);
    return { ...base, runs: times.length, medianMs: NaN, p95Ms: NaN, rows: rows ?? null, rowsPerSecond: null, ratio: null, error: message };
  }
  const med = median(times);
  const result: BenchResult = {
    ...base,
    runs: times.length,
    medianMs: med,
    p95Ms: percentile(times, 95),
    rows: rows ?? null,
    rowsPerSecond: rows !== undefined && med > 0 ? rows / (med / 1000) : null,
    ratio: null,
  };
  ctx.log(
    `${suite.name} / ${testCase.operation} @ ${sizeLabel(testCase.size)}: median ${med.toFixed(1)} ms over ${times.length} run(s)` +
      (result.rowsPerSecond ? `, ${Math.round(result.rowsPerSecond).toLocaleString('en')} rows/s` : ''),
  );
  return result;
}

/** `≤ 150 ms: met` / `≤ 150 ms (p95): missed`, or empty when the case has no target. */
function targetCell(r: BenchResult): string {
  if (!r.target) return '';
  const measured = r.target.of === 'p95' ? r.p95Ms : r.medianMs;
  const label = `≤ ${r.target.ms.toLocaleString('en')} ms${r.target.of === 'p95' ? ' (p95)' : ''}`;
  if (r.error || Number.isNaN(measured)) return `${label}: not measured`;
  return `${label}: ${measured <= r.target.ms ? 'met' : 'missed'}`;
}

/** Adds the baseline ratio and renders the one table everybody reads. */
function tabulate(results: BenchResult[]): { table: string; withRatios: BenchResult[] } {
  const all = aq.from(results.map((r) => ({ ...r, baseline: r.baseline ?? '' })));
  const baselines = all.select({ suite: 'suite', operation: 'baseline', size: 'size', medianMs: 'baselineMs', rowsPerSecond: 'baselineRate' });
  const joined = all.lookup(baselines, [['suite', 'baseline', 'size'], ['suite', 'baseline', 'size']], 'baselineMs', 'baselineRate');
  const withRatios = joined.objects().map((o) => {
    const { baselineMs, baselineRate, ...rest } = o as BenchResult & { baselineMs?: number; baselineRate?: number | null };
    // By rate when both counted rows, so a baseline measured on fewer rows (a slow design on a
    // sample) compares fairly; on equal rows it is the same figure as the ratio of times.
    const ratio =
      rest.rowsPerSecond && baselineRate && rest.rowsPerSecond > 0 && baselineRate > 0
        ? rest.rowsPerSecond / baselineRate
        : baselineMs && baselineMs > 0 && rest.medianMs > 0
          ? baselineMs / rest.medianMs
          : null;
    return { ...rest, baseline: rest.baseline || null, ratio };
  });
  const fmt = (n: number | null, digits: number) =>
    n === null || Number.isNaN(n) ? '' : n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const display = aq.from(
    withRatios.map((r) => ({
      suite: r.suite,
      operation: r.operation,
      size: sizeLabel(r.size),
      'median ms': r.error ? 'FAILED' : fmt(r.medianMs, 1),
      'p95 ms': fmt(r.p95Ms, 1),
      runs: r.runs,
      'rows/s': fmt(r.rowsPerSecond === null ? null : Math.round(r.rowsPerSecond), 0),
      baseline: r.baseline ?? '',
      '× faster': r.ratio === null ? '' : `${r.ratio.toFixed(r.ratio >= 10 ? 0 : 1)}×`,
      target: targetCell(r),
    })),
  );
  const align = { 'median ms': 'r', 'p95 ms': 'r', runs: 'r', 'rows/s': 'r', '× faster': 'r' } as const;
  return { table: display.toMarkdown({ align }), withRatios };
}

async function main(argv: string[]): Promise<number> {
  const settings = { runs: Math.round(positive('BENCH_RUNS', 5)), slowMs: positive('BENCH_SLOW_MS', 2000) };
  const sizes = parseSizes(process.env.BENCH_CUSTOMERS);
  const suites = await loadSuites(argv.filter((a) => !a.startsWith('-')));
  const ctx = new RunnerContext(sizes);
  const startedAt = new Date();
  const results: BenchResult[] = [];
  try {
    for (const suite of suites) {
      ctx.log(`suite ${suite.name}`);
      await suite.setup?.(ctx);
      try {
        const cases = typeof suite.cases === 'function' ? await suite.cases(ctx) : suite.cases;
        for (const testCase of cases) results.push(await timeCase(suite, testCase, ctx, settings));
      } finally {
        await suite.teardown?.(ctx);
      }
    }
  } finally {
    await ctx.close();
  }
  const { table, withRatios } = tabulate(results);
  console.log(`\n${table}\n`);
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, memoryGb: Math.round(os.totalmem() / 1024 ** 3), node: process.version },
    settings: { ...settings, sizes },
    results: withRatios,
  };
  mkdirSync(path.join(BENCH_ROOT, 'history'), { recursive: true });
  writeFileSync(path.join(BENCH_ROOT, 'latest.json'), JSON.stringify(report, null, 2));
  writeFileSync(path.join(BENCH_ROOT, 'history', `${startedAt.toISOString().replaceAll(':', '-')}.json`), JSON.stringify(report, null, 2));
  return results.some((r) => r.error) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
