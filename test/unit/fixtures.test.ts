import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { FIXTURE_DATASETS, generateFixtures, type FixtureFile } from '../../fixtures/generate.js';

const catalog = loadCatalog();
const SAMPLE_DIR = path.resolve('fixtures/sample');
const MONTHS = 4;

interface Table {
  header: string[];
  rows: Array<Record<string, string>>;
}

/** The generator never writes quotes or commas inside values, so a line split is a full parser here. */
function readCsv(file: string): Table {
  const text = readFileSync(file, 'utf8');
  expect(text.includes('"'), `${file} has no quoted fields`).toBe(false);
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = lines[0]!.split(',');
  const rows = lines.slice(1).map((line) => {
    const cells = line.split(',');
    expect(cells.length).toBe(header.length);
    return Object.fromEntries(header.map((h, i) => [h, cells[i]!]));
  });
  return { header, rows };
}

function duplicates(values: string[]): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const v of values) {
    if (seen.has(v)) dup.push(v);
    seen.add(v);
  }
  return dup;
}

describe('fixture generator', () => {
  let dirA: string;
  let dirB: string;
  let filesA: FixtureFile[];
  let tables: Record<string, Table>;

  beforeAll(async () => {
    dirA = mkdtempSync(path.join(os.tmpdir(), 'quanke-fx-a-'));
    dirB = mkdtempSync(path.join(os.tmpdir(), 'quanke-fx-b-'));
    // Different thread counts: the bytes must not depend on how DuckDB splits the work.
    ({ files: filesA } = await generateFixtures({ customers: 3000, out: dirA, format: 'both', seed: 7, months: MONTHS, threads: 1 }));
    await generateFixtures({ customers: 3000, out: dirB, format: 'both', seed: 7, months: MONTHS, threads: 2 });
    tables = Object.fromEntries(FIXTURE_DATASETS.map((d) => [d, readCsv(path.join(dirA, `${d}.csv`))]));
  });

  afterAll(() => {
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  });

  it('writes every dataset in both formats and reports the row counts it wrote', () => {
    expect(filesA.map((f) => `${f.dataset}.${f.format}`).sort()).toEqual(
      FIXTURE_DATASETS.flatMap((d) => [`${d}.csv`, `${d}.parquet`]).sort(),
    );
    for (const f of filesA.filter((f) => f.format === 'csv')) {
      expect(f.rows, f.dataset).toBe(tables[f.dataset]!.rows.length);
    }
    expect(tables.customers!.rows).toHaveLength(3000);
  });

  it('is deterministic: the same options give byte-identical files', () => {
    for (const f of filesA) {
      const other = readFileSync(path.join(dirB, path.basename(f.path)));
      expect(readFileSync(f.path).equals(other), path.basename(f.path)).toBe(true);
    }
  });

  it('gives different data for a different seed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-fx-c-'));
    try {
      await generateFixtures({ customers: 3000, out: dir, format: 'csv', seed: 8, months: MONTHS });
      expect(readFileSync(path.join(dir, 'customers.csv')).equals(readFileSync(path.join(dirA, 'customers.csv')))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes exactly the catalog columns of each dataset as the CSV header', () => {
    for (const name of FIXTURE_DATASETS) {
      expect(tables[name]!.header, name).toEqual(catalog.dataset(name)!.columns.map((c) => c.name));
    }
  });

  it('keeps every catalog key unique', () => {
    for (const name of FIXTURE_DATASETS) {
      const key = catalog.dataset(name)!.key;
      if (key.length === 0) continue;
      const keys = tables[name]!.rows.map((r) => key.map((k) => r[k]).join('|'));
      expect(duplicates(keys), name).toEqual([]);
    }
    const subscriptions = tables.subscriptions!.rows.map((r) => `${r.customer_id}|${r.product_id}`);
    expect(duplicates(subscriptions)).toEqual([]);
  });

  it('gives every customer a distinct mainland mobile number', () => {
    const msisdns = tables.customers!.rows.map((r) => r.msisdn!);
    for (const m of msisdns) expect(m).toMatch(/^1[3-9][0-9]{9}$/);
    expect(duplicates(msisdns)).toEqual([]);
  });

  it('keeps code columns within their allowed values and required columns filled', () => {
    for (const name of FIXTURE_DATASETS) {
      for (const column of catalog.dataset(name)!.columns) {
        const values = tables[name]!.rows.map((r) => r[column.name]!);
        if (column.required) expect(values.filter((v) => v === ''), `${name}.${column.name}`).toEqual([]);
        if (column.values) {
          const allowed = new Set(['', ...column.values]);
          expect(values.filter((v) => !allowed.has(v)), `${name}.${column.name}`).toEqual([]);
        }
        if (column.min !== undefined || column.max !== undefined) {
          const numbers = values.filter((v) => v !== '').map(Number);
          if (column.min !== undefined) expect(Math.min(...numbers)).toBeGreaterThanOrEqual(column.min);
          if (column.max !== undefined) expect(Math.max(...numbers)).toBeLessThanOrEqual(column.max);
        }
      }
    }
  });

  it('uses first-of-month dates for the N most recent months ending 2026-10', () => {
    const months = new Set(tables.usage_monthly!.rows.map((r) => r.month!));
    expect([...months].sort()).toEqual(['2026-07-01', '2026-08-01', '2026-09-01', '2026-10-01']);
  });

  it('leaves some customer-months and some customers without usage', () => {
    const customers = tables.customers!.rows.length;
    const usage = tables.usage_monthly!.rows;
    const withUsage = new Set(usage.map((r) => r.customer_id));
    expect(usage.length).toBeLessThan(customers * MONTHS);
    expect(usage.length).toBeGreaterThan(customers * MONTHS * 0.8);
    expect(withUsage.size).toBeLessThan(customers);
  });

  it('references only known grids, products and customers', () => {
    const grids = new Set(tables.grids!.rows.map((r) => r.grid_id));
    const products = new Set(tables.products!.rows.map((r) => r.product_id));
    const customers = new Set(tables.customers!.rows.map((r) => r.customer_id));
    expect(tables.customers!.rows.filter((r) => r.grid_id !== '' && !grids.has(r.grid_id))).toEqual([]);
    expect(tables.subscriptions!.rows.filter((r) => !products.has(r.product_id))).toEqual([]);
    for (const name of ['usage_monthly', 'subscriptions', 'tags'] as const) {
      expect(tables[name]!.rows.filter((r) => !customers.has(r.customer_id)), name).toEqual([]);
    }
    expect(tables.products!.rows.map((r) => r.product_id)).toEqual(expect.arrayContaining(['P5G', 'PFAM']));
  });

  it('ends subscriptions no earlier than they start', () => {
    const ended = tables.subscriptions!.rows.filter((r) => r.end_date !== '');
    expect(ended.length).toBeGreaterThan(0);
    expect(ended.filter((r) => r.end_date! < r.start_date!)).toEqual([]);
  });

  it('has roughly the documented make-up', () => {
    const rows = tables.customers!.rows;
    const share = (predicate: (r: Record<string, string>) => boolean) => rows.filter(predicate).length / rows.length;
    expect(share((r) => r.brand === 'easyown')).toBeGreaterThan(0.42);
    expect(share((r) => r.brand === 'easyown')).toBeLessThan(0.58);
    expect(share((r) => r.status === 'active')).toBeGreaterThan(0.88);
    expect(share((r) => r.age === '')).toBeGreaterThan(0.005);
    expect(share((r) => r.age === '')).toBeLessThan(0.04);
    const arpu = rows.filter((r) => r.arpu !== '').map((r) => Number(r.arpu)).sort((a, b) => a - b);
    const median = arpu[Math.floor(arpu.length / 2)]!;
    expect(median).toBeGreaterThan(45);
    expect(median).toBeLessThan(68);
    const tagged = new Set(tables.tags!.rows.map((r) => r.customer_id)).size / rows.length;
    expect(tagged).toBeGreaterThan(0.5);
    expect(tagged).toBeLessThan(0.7);
    const holders = new Set(tables.subscriptions!.rows.map((r) => r.customer_id)).size / rows.length;
    expect(holders).toBeGreaterThan(0.09);
    expect(holders).toBeLessThan(0.17);
  });
});

describe('the checked-in sample', () => {
  it('is exactly what `npm run fixtures -- --customers 2000 --months 6 --format csv --seed 42` writes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-fx-sample-'));
    try {
      await generateFixtures({ customers: 2000, out: dir, format: 'csv', seed: 42, months: 6 });
      for (const name of FIXTURE_DATASETS) {
        const fresh = readFileSync(path.join(dir, `${name}.csv`));
        expect(fresh.equals(readFileSync(path.join(SAMPLE_DIR, `${name}.csv`))), name).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
