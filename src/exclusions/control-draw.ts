import { createHash } from 'node:crypto';
import type { Dialect } from '../conditions/dialect.js';
import { SqlParams } from '../conditions/params.js';

/**
 * The seeded control draw, in any dialect. Every kept customer gets a rank: a 32-bit integer hash
 * of its id keyed by the seed; the `control` customers with the smallest ranks (ties broken by id)
 * are the control group. The hash is integer arithmetic both DuckDB and Postgres compute exactly
 * alike (BIGINT and, xor, shift, and a multiply that cannot overflow: a 32-bit value times a 27-bit
 * constant), so the same seed over the same kept customers draws the same control group on either
 * engine; `controlRank` computes it in JS for tests. The mix is the well-known `hash32`
 * (xorshift-multiply, twice). md5 of seed and id would do too, but cost DuckDB twenty times its
 * own `hash()` over 5M kept customers (5.0 s against 0.25 s, measured under load); this mix costs
 * twice `hash()` (selecting 250k of 5M: 123 ms against 60 ms, load ~3), which DuckDB cannot share
 * with Postgres.
 */

const MASK32 = 4294967295n;
const MULTIPLIER = 0x45d9f3bn;

/** 32 bits of the seed's SHA-256: the key xor-ed into every folded customer id before mixing. */
export function seedKey(seed: string): number {
  return createHash('sha256').update(seed).digest().readUInt32BE(0);
}

/** The rank of one customer under a seed key, exactly as `controlRanksSql` computes it. */
export function controlRank(customerId: number | bigint, key: number): number {
  const id = BigInt(customerId);
  let x = (id & MASK32) ^ (id >> 32n) ^ BigInt(key);
  x = (((x >> 16n) ^ x) * MULTIPLIER) & MASK32;
  x = (((x >> 16n) ^ x) * MULTIPLIER) & MASK32;
  return Number((x >> 16n) ^ x);
}

/**
 * `SELECT customer_id, rank FROM (…)` over `source` (a table or a parenthesised query with a
 * `customer_id` column). Each mixing step is a nested projection, so an engine without common
 * subexpression elimination still computes each step once per row.
 */
export function controlRanksSql(dialect: Dialect<unknown>, source: string, key: string): string {
  const mask = dialect.cast('4294967295', 'BIGINT');
  const mix = (x: string) => `((${dialect.xor(`(${x} >> 16)`, x)} * ${Number(MULTIPLIER)}) & ${mask})`;
  const folded = dialect.xor(dialect.xor(`(customer_id & ${mask})`, '(customer_id >> 32)'), key);
  return `SELECT customer_id, ${dialect.xor('(x >> 16)', 'x')} AS rank FROM (
      SELECT customer_id, ${mix('x')} AS x FROM (
        SELECT customer_id, ${mix('x')} AS x FROM (SELECT customer_id, ${folded} AS x FROM ${source} kept) s0) s1) s2`;
}

/** Runs one statement and answers how many rows it changed. */
export type RunStatement<V> = (sql: string, values: V[]) => Promise<number>;

/**
 * Marks `control` of the `kept` customers of `table` (those with `removed_by_step = 0`) as control.
 * Ranks are uniform, so the k smallest lie below about k/kept of the range: only those candidates
 * (with a margin) are sorted, and when too few fall below the bound the draw is redone over all.
 */
export async function drawControlGroup<V>(
  run: RunStatement<V>,
  dialect: Dialect<V>,
  table: string,
  seed: string,
  control: number,
  kept: number,
): Promise<void> {
  const draw = (bounded: boolean) => {
    const params = new SqlParams<V>(dialect);
    const key = params.add(seedKey(seed), 'BIGINT');
    const keptRows = `(SELECT customer_id FROM ${table} WHERE removed_by_step = 0)`;
    const bound = bounded ? ` WHERE rank <= ${params.add(candidateBound(control, kept), 'BIGINT')}` : '';
    const limit = params.add(control, 'BIGINT');
    const sql = `UPDATE ${table} SET is_control = TRUE WHERE customer_id IN (
      SELECT customer_id FROM (${controlRanksSql(dialect, keptRows, key)}) ranked${bound}
      ORDER BY rank, customer_id LIMIT ${limit})`;
    return run(sql, params.values);
  };
  if (control / kept < 0.4) {
    if ((await draw(true)) === control) return;
    await run(`UPDATE ${table} SET is_control = FALSE WHERE is_control`, []);
  }
  await draw(false);
}

/** A rank bound below which comfortably more than `control` of `kept` uniform 32-bit ranks fall. */
function candidateBound(control: number, kept: number): number {
  const share = Math.min(0.5, (control / kept) * 1.05 + 64 / kept);
  return Math.ceil(share * 2 ** 32);
}
