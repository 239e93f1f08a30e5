import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../db/kysely.js';

/** An order ready to store; `orderedAt` an ISO timestamp with its zone. */
export interface ConversionRow {
  orderId: string;
  msisdn: string | null;
  customerId: number | null;
  productId: string;
  orderedAt: string;
  revenue: number | null;
}

/** Inserts orders in one statement; an order id already stored is skipped. Returns the ids inserted. */
export async function insertConversions(db: Db, rows: readonly ConversionRow[], source: string): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await sql<{ order_id: string }>`
    INSERT INTO conversions (order_id, msisdn, customer_id, product_id, ordered_at, revenue, source)
    SELECT o, m, c, p, t, r, ${source}
    FROM unnest(${rows.map((r) => r.orderId)}::text[], ${rows.map((r) => r.msisdn)}::text[],
                ${rows.map((r) => r.customerId)}::bigint[], ${rows.map((r) => r.productId)}::text[],
                ${rows.map((r) => r.orderedAt)}::timestamptz[], ${rows.map((r) => r.revenue)}::numeric[]) AS v(o, m, c, p, t, r)
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id`.execute(db);
  return result.rows.map((r) => r.order_id);
}

/**
 * Loads a checked CSV of orders (order_id, msisdn, customer_id, product_id, ordered_us, revenue;
 * no header; ordered_us in epoch microseconds) in one transaction: COPY into a scratch table,
 * then one insert that skips known order ids. All of the file, or nothing.
 */
export async function copyConversionsFile(
  databaseUrl: string,
  file: string,
  source: string,
): Promise<{ received: number; inserted: number; duplicateOrderIds: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(`CREATE TEMP TABLE _conversions_in (
        order_id text, msisdn text, customer_id bigint, product_id text, ordered_us bigint, revenue numeric) ON COMMIT DROP`);
      const copy = client.query(copyFrom(`COPY _conversions_in FROM STDIN WITH (FORMAT csv)`));
      await pipeline(createReadStream(file), copy);
      const received = Number(copy.rowCount ?? 0);
      const inserted = await client.query<{ n: string }>(
        `WITH ins AS (
           INSERT INTO conversions (order_id, msisdn, customer_id, product_id, ordered_at, revenue, source)
           SELECT order_id, msisdn, customer_id, product_id, timestamptz 'epoch' + ordered_us * interval '1 microsecond', revenue, $1
           FROM _conversions_in
           ON CONFLICT (order_id) DO NOTHING
           RETURNING order_id)
         SELECT count(*) AS n FROM ins`,
        [source],
      );
      const duplicates = await client.query<{ order_id: string }>(
        // Rows this transaction inserted carry its start time (now()); any other was there before.
        `SELECT order_id FROM (
           SELECT i.order_id FROM _conversions_in i JOIN conversions c USING (order_id) WHERE c.created_at <> now()
           UNION SELECT order_id FROM _conversions_in GROUP BY order_id HAVING count(*) > 1) d
         ORDER BY order_id LIMIT 100`,
      );
      await client.query('COMMIT');
      return { received, inserted: Number(inserted.rows[0]?.n ?? 0), duplicateOrderIds: duplicates.rows.map((r) => r.order_id) };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
