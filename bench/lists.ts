import { renameSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Special lists for the benches, drawn from a fixture's customers so that Quanke and the Postgres
 * baseline exclude exactly the same numbers. Each list takes a share of the customers by hash of
 * (customer, list), independently, so lists overlap as real ones do. A third of the greylist has
 * already expired.
 */
export const BENCH_LISTS: ReadonlyArray<{ list: string; permille: number; reason: string }> = [
  { list: 'blacklist', permille: 10, reason: '公安通报涉诈号码' },
  { list: 'complaint', permille: 10, reason: '12300投诉' },
  { list: 'opt_out', permille: 20, reason: '回复TD退订' },
  { list: 'dnd', permille: 15, reason: '客户要求免打扰' },
  { list: 'greylist', permille: 30, reason: '近期投诉观察期' },
  { list: 'vip', permille: 5, reason: '集团重要客户' },
];

/** Expiry of greylist entries that are still in force, and of those that lapsed. */
export const LIST_EXPIRES_ACTIVE = '2030-01-01 00:00:00+00';
export const LIST_EXPIRES_LAPSED = '2026-01-01 00:00:00+00';

function quote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Writes `list_name,msisdn,reason,expires_at` for every entry; returns the number of entries. */
export async function writeBenchLists(customersCsv: string, target: string, seed: number): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    const selects = BENCH_LISTS.map(
      ({ list, permille, reason }) => `SELECT ${quote(list)} AS list_name, msisdn, ${quote(reason)} AS reason,
        CASE WHEN ${quote(list)} <> 'greylist' THEN NULL
             WHEN hash(customer_id, ${seed}, 'lapsed') % 3 = 0 THEN TIMESTAMPTZ ${quote(LIST_EXPIRES_LAPSED)}
             ELSE TIMESTAMPTZ ${quote(LIST_EXPIRES_ACTIVE)} END AS expires_at,
        customer_id
      FROM read_csv(${quote(customersCsv)}, header = true, types = {'customer_id': 'BIGINT', 'msisdn': 'VARCHAR'})
      WHERE hash(hash(customer_id, ${seed}, ${quote(list)})) % 1000 < ${permille}`,
    );
    const partial = `${target}.partial`;
    // Timestamps as plain UTC text, which both Postgres COPY and the list APIs read.
    await c.run(`SET TimeZone = 'UTC'`);
    const result = await c.runAndReadAll(`COPY (
      SELECT list_name, msisdn, reason, strftime(expires_at, '%Y-%m-%dT%H:%M:%SZ') AS expires_at
      FROM (${selects.join('\nUNION ALL\n')})
      ORDER BY list_name, customer_id
    ) TO ${quote(partial)} (FORMAT csv, HEADER true)`);
    renameSync(partial, target);
    return Number(result.getRows()[0]?.[0] ?? 0);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}
