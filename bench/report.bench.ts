import { sql } from 'kysely';
import type { Container } from '../src/container.js';
import { ledgerPartition } from '../src/sending/ledger.repository.js';
import type { BenchCase, BenchContext, BenchSuite } from './harness.js';

/**
 * The campaign effectiveness report with a city breakdown over a 10M-row campaign ledger and 1M
 * orders (BENCH_REPORT_LEDGER / BENCH_REPORT_ORDERS to change), DuckDB against Postgres.
 *
 * The data are synthetic and generated where they live: the campaign's ledger partition and the
 * orders in the bench Postgres (kept between runs under fixed ids), customers with city, county
 * and grid straight into this suite's own DuckDB file (one customer per ledger row). The mirrors
 * then copy the ledger and the orders into DuckDB the way the service does (timed once, as setup).
 *
 * The Postgres baseline does the same work the same way: the same attribution (window per
 * customer, product, distinct converters), the same city breakdown, over the campaign's partition,
 * with the same precomputation (a customers table with city, keyed) and an index on the orders
 * by (product_id, customer_id, ordered_at); parallel workers as configured (default 2).
 */

const LEDGER_ROWS = Number(process.env.BENCH_REPORT_LEDGER ?? 10_000_000);
const ORDERS = Number(process.env.BENCH_REPORT_ORDERS ?? 1_000_000);
const CAMPAIGN_ID = '00000000-0000-4000-8000-00000000be01';
const PRODUCT = 'P5G';
const CONTROL_EVERY = 20;
const CITIES = ['广州', '深圳', '珠海', '汕头', '佛山', '韶关', '湛江', '肇庆', '江门', '茂名', '惠州', '梅州', '汕尾', '河源', '阳江', '清远', '东莞', '中山', '潮州', '揭阳', '云浮'];
const LAUNCH = '2026-11-01T01:00:00Z';

let container: Container;

async function preparePostgres(ctx: BenchContext, c: Container): Promise<void> {
  const { db } = c;
  const partition = ledgerPartition(CAMPAIGN_ID);
  const existing = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class WHERE relname = ${partition}`.execute(db);
  const have = existing.rows[0]!.n > 0 ? (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(partition)}`.execute(db)).rows[0]!.n : 0;
  const orders = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM conversions WHERE source = 'bench'`.execute(db)).rows[0]!.n;
  if (have === LEDGER_ROWS && orders === ORDERS) {
    ctx.log(`report: reusing the ${LEDGER_ROWS.toLocaleString('en')}-row ledger and ${ORDERS.toLocaleString('en')} orders in Postgres`);
    return;
  }
  let started = performance.now();
  await sql`DELETE FROM campaigns WHERE id = ${CAMPAIGN_ID}`.execute(db);
  await sql.raw(`DROP TABLE IF EXISTS ${partition}`).execute(db);
  await sql`INSERT INTO campaigns (id, name, category, product_id, class, segment_id, exclusion_policy, channel, message, schedule, throttle,
      control_percent, gateway, status, launched_by, launched_at, send_at, completed_at, receipts_closed_at, target_count, control_count, created_by, updated_by)
    VALUES (${CAMPAIGN_ID}, 'bench report', '5g', ${PRODUCT}, 'marketing', gen_random_uuid(), 'default', 'sms', '{}', '{}', '{}',
      5, 'simulator', 'completed', 'bench', ${LAUNCH}, ${LAUNCH}, ${LAUNCH}, now(), ${LEDGER_ROWS - LEDGER_ROWS / CONTROL_EVERY}, ${LEDGER_ROWS / CONTROL_EVERY}, 'bench', 'bench')`.execute(db);
  await sql.raw(`CREATE TABLE ${partition} PARTITION OF message_ledger FOR VALUES IN ('${CAMPAIGN_ID}') WITH (fillfactor = 70)`).execute(db);
  // Outcomes by hash: 85 % of the target delivered, 6 % failed (three codes), 4 % suppressed, 5 % expired.
  await sql.raw(`INSERT INTO ${partition} (campaign_id, seq, customer_id, msisdn, is_control, status, parts, error_code, submitted_at, final_at)
    SELECT '${CAMPAIGN_ID}', s, s + 1, (13800000000 + s)::text, s % ${CONTROL_EVERY} = 0,
      CASE WHEN s % ${CONTROL_EVERY} = 0 THEN 'control' WHEN h < 85 THEN 'delivered' WHEN h < 91 THEN 'failed' WHEN h < 95 THEN 'suppressed' ELSE 'expired' END,
      CASE WHEN s % ${CONTROL_EVERY} = 0 OR (h >= 91 AND h < 95) THEN NULL ELSE 1 + (s % 2) END,
      CASE WHEN s % ${CONTROL_EVERY} <> 0 AND h >= 85 AND h < 91 THEN 'UNDELIV:' || (h % 3) END,
      CASE WHEN s % ${CONTROL_EVERY} = 0 OR (h >= 91 AND h < 95) THEN NULL ELSE timestamptz '${LAUNCH}' + (s % 36000) * interval '1 second' END,
      CASE WHEN s % ${CONTROL_EVERY} = 0 THEN NULL ELSE timestamptz '${LAUNCH}' + interval '1 day' END
    FROM (SELECT s, abs(hashint4(s)) % 100 AS h FROM generate_series(0, ${LEDGER_ROWS - 1}) s) g`).execute(db);
  await sql.raw(`ANALYZE ${partition}`).execute(db);
  ctx.log(`report: ledger of ${LEDGER_ROWS.toLocaleString('en')} rows written in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  started = performance.now();
  await sql`DELETE FROM conversions WHERE source = 'bench'`.execute(db);
  // Customers draw orders at random; two thirds of the product, the rest of another; days 0–44 after launch.
  await sql.raw(`INSERT INTO conversions (order_id, customer_id, product_id, ordered_at, revenue, source)
    SELECT 'bench-' || o, 1 + abs(hashint4(o * 7 + 1)) % ${LEDGER_ROWS}, CASE WHEN o % 3 = 2 THEN 'PX' ELSE '${PRODUCT}' END,
      timestamptz '${LAUNCH}' + (abs(hashint4(o * 13 + 5)) % (45 * 86400)) * interval '1 second', 10 + (o % 50), 'bench'
    FROM generate_series(1, ${ORDERS}) o`).execute(db);
  ctx.log(`report: ${ORDERS.toLocaleString('en')} orders written in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The baseline's precomputation: customers with their city in Postgres, keyed, beside an index on the orders. */
async function preparePostgresBaseline(ctx: BenchContext, c: Container): Promise<void> {
  const { db } = c;
  const have = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'bench_report_customers'`.execute(db);
  const rows = have.rows[0]!.n > 0 ? (await sql<{ n: number }>`SELECT count(*)::int AS n FROM bench_report_customers`.execute(db)).rows[0]!.n : 0;
  if (rows !== LEDGER_ROWS) {
    const started = performance.now();
    await sql`DROP TABLE IF EXISTS bench_report_customers`.execute(db);
    await sql.raw(`CREATE TABLE bench_report_customers AS
      SELECT s AS customer_id, (ARRAY[${CITIES.map((x) => `'${x}'`).join(',')}])[1 + s % ${CITIES.length}] AS city
      FROM generate_series(1, ${LEDGER_ROWS}) s`).execute(db);
    await sql`ALTER TABLE bench_report_customers ADD PRIMARY KEY (customer_id)`.execute(db);
    await sql`ANALYZE bench_report_customers`.execute(db);
    ctx.log(`report: Postgres baseline customers built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  await sql`CREATE INDEX IF NOT EXISTS bench_conversions_product_idx ON conversions (product_id, customer_id, ordered_at)`.execute(db);
  await sql`ANALYZE conversions`.execute(db);
}

async function prepareWarehouse(ctx: BenchContext, c: Container): Promise<void> {
  const started = performance.now();
  const cities = `[${CITIES.map((x) => `'${x}'`).join(',')}]`;
  await c.warehouse.write((w) =>
    w.run(`INSERT INTO customer_profile (customer_id, msisdn, city, county, grid_id, brand, status)
      SELECT s, (13800000000 + s - 1)::VARCHAR, ${cities}[1 + s % ${CITIES.length}],
        ${cities}[1 + s % ${CITIES.length}] || '区' || (s % 7), 'G-' || (s % ${CITIES.length}) || '-' || (s % 97), 'gotone', 'active'
      FROM range(1, ${LEDGER_ROWS + 1}) t(s)`),
  );
  ctx.log(`report: ${LEDGER_ROWS.toLocaleString('en')} customers into DuckDB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const synced = performance.now();
  const report = await c.mirror.sync({ feedback: true });
  ctx.log(
    `report: first mirror pass ${((performance.now() - synced) / 1000).toFixed(1)} s ` +
      `(ledger ${report.feedback?.ledger.read.toLocaleString('en')} rows in ${report.feedback?.ledger.ms} ms, ` +
      `orders ${report.feedback?.conversions.read.toLocaleString('en')} in ${report.feedback?.conversions.ms} ms)`,
  );
}

/** The report's figures by city, computed by Postgres alone: the same attribution and grouping as ReportEngine. */
async function postgresReport(c: Container): Promise<number> {
  const result = await sql<{ city: string }>`
    WITH l AS (
      SELECT o.customer_id, o.is_control, o.status, o.parts, o.submitted_at, cu.city,
        CASE WHEN o.is_control THEN ${LAUNCH}::timestamptz ELSE o.submitted_at END AS window_start
      FROM ${sql.table(ledgerPartition(CAMPAIGN_ID))} o LEFT JOIN bench_report_customers cu ON cu.customer_id = o.customer_id
    ),
    attributed AS (
      SELECT l.customer_id, count(*) AS orders, sum(coalesce(cv.revenue, 0)) AS revenue
      FROM l JOIN conversions cv ON cv.customer_id = l.customer_id
      WHERE cv.product_id = ${PRODUCT} AND cv.ordered_at >= l.window_start AND cv.ordered_at < l.window_start + interval '30 days'
      GROUP BY l.customer_id
    )
    SELECT l.city,
      count(*) FILTER (WHERE NOT l.is_control) AS target_size,
      count(*) FILTER (WHERE NOT l.is_control AND l.submitted_at IS NOT NULL) AS sent,
      count(*) FILTER (WHERE l.status = 'delivered') AS delivered,
      count(*) FILTER (WHERE l.status = 'failed') AS failed,
      count(*) FILTER (WHERE l.status = 'suppressed') AS suppressed,
      count(*) FILTER (WHERE l.status = 'expired') AS expired,
      coalesce(sum(l.parts) FILTER (WHERE NOT l.is_control AND l.submitted_at IS NOT NULL), 0) AS parts_sent,
      count(a.customer_id) FILTER (WHERE NOT l.is_control) AS target_conversions,
      coalesce(sum(a.orders) FILTER (WHERE NOT l.is_control), 0) AS target_orders,
      coalesce(sum(a.revenue) FILTER (WHERE NOT l.is_control), 0) AS target_revenue,
      count(*) FILTER (WHERE l.is_control) AS control_size,
      count(a.customer_id) FILTER (WHERE l.is_control) AS control_conversions,
      coalesce(sum(a.revenue) FILTER (WHERE l.is_control), 0) AS control_revenue
    FROM l LEFT JOIN attributed a ON a.customer_id = l.customer_id
    GROUP BY l.city`.execute(c.db);
  const failed = await sql`SELECT error_code, count(*) FROM ${sql.table(ledgerPartition(CAMPAIGN_ID))} WHERE status = 'failed' GROUP BY 1`.execute(c.db);
  return result.rows.length + failed.rows.length;
}

export const bench: BenchSuite = {
  name: 'report',
  async setup(ctx) {
    container = await ctx.container('report');
    await preparePostgres(ctx, container);
    await preparePostgresBaseline(ctx, container);
    await prepareWarehouse(ctx, container);
    // The two must agree before either is timed.
    const duck = await container.reports.campaignReport(CAMPAIGN_ID, 'city', 'admin');
    const pg = await sql<{ n: number; conv: number }>`
      SELECT count(*)::int AS n FROM ${sql.table(ledgerPartition(CAMPAIGN_ID))} WHERE NOT is_control`.execute(container.db);
    if (duck.target.size !== pg.rows[0]!.n) throw new Error(`report: DuckDB says ${duck.target.size} targets, Postgres ${pg.rows[0]!.n}`);
    ctx.log(
      `report: ${duck.target.size.toLocaleString('en')} targets, ${duck.target.conversions.toLocaleString('en')} converted ` +
        `(${((duck.target.conversionRate ?? 0) * 100).toFixed(2)} %), control ${duck.control.size.toLocaleString('en')} / ` +
        `${duck.control.conversions.toLocaleString('en')}, uplift z ${duck.uplift.z?.toFixed(2)}, ${duck.breakdown.length} cities`,
    );
  },
  cases(): BenchCase[] {
    const size = LEDGER_ROWS;
    return [
      {
        operation: 'campaign report by city (DuckDB, incl. mirror check)',
        size,
        rows: LEDGER_ROWS,
        baseline: 'campaign report by city (Postgres directly)',
        run: async () => {
          await container.reports.campaignReport(CAMPAIGN_ID, 'city', 'admin');
        },
      },
      {
        operation: 'campaign report by city (Postgres directly)',
        size,
        rows: LEDGER_ROWS,
        runs: 3,
        run: async () => {
          await postgresReport(container);
        },
      },
      {
        operation: 'campaign report, no breakdown (DuckDB)',
        size,
        rows: LEDGER_ROWS,
        run: async () => {
          await container.reports.campaignReport(CAMPAIGN_ID, undefined, 'admin');
        },
      },
      {
        operation: 'feedback mirror pass, campaign settled, nothing changed',
        size,
        run: async () => {
          await container.mirror.sync({ feedback: true });
        },
      },
      {
        operation: 'feedback mirror pass, campaign live (checksums), nothing changed',
        size,
        runs: 3,
        prepare: async () => {
          await sql`UPDATE campaigns SET receipts_closed_at = NULL WHERE id = ${CAMPAIGN_ID}`.execute(container.db);
          await container.warehouse.write((w) => w.run('UPDATE _ledger_campaigns SET settled = false WHERE campaign_id = $1', [CAMPAIGN_ID]));
        },
        run: async () => {
          await container.mirror.sync({ feedback: true });
        },
      },
      {
        operation: 'feedback mirror pass, campaign live, 1 block (65,536 rows) changed',
        size,
        runs: 3,
        prepare: async () => {
          await sql`UPDATE campaigns SET receipts_closed_at = NULL WHERE id = ${CAMPAIGN_ID}`.execute(container.db);
          await container.warehouse.write((w) => w.run('UPDATE _ledger_campaigns SET settled = false WHERE campaign_id = $1', [CAMPAIGN_ID]));
          await sql.raw(`UPDATE ${ledgerPartition(CAMPAIGN_ID)} SET final_at = final_at + interval '1 second' WHERE seq >= 65536 AND seq < 65536 + 1000`).execute(container.db);
        },
        run: async () => {
          await container.mirror.sync({ feedback: true });
        },
      },
    ];
  },
  async teardown() {
    await sql`UPDATE campaigns SET receipts_closed_at = now() WHERE id = ${CAMPAIGN_ID}`.execute(container.db).catch(() => undefined);
  },
};
