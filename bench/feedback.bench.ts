import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createDb, ensureDatabase, type Db } from '../src/db/kysely.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { ReceiptProcessor } from '../src/feedback/receipt.processor.js';
import { insertGatewayReceipts } from '../src/gateways/gateway.repository.js';
import type { GatewayReceipt } from '../src/gateways/gateway.js';
import { createLogger } from '../src/logger.js';
import { ledgerPartition } from '../src/sending/ledger.repository.js';
import { BENCH_DATABASE_URL } from './context.js';
import type { BenchCase, BenchSuite } from './harness.js';

/**
 * Receipt ingestion (issue 14): 1M receipts in random order, 5 % of them duplicates, for a campaign
 * of 850,000 messages (750,000 of one part, 100,000 of two: 950,000 parts, one final receipt each,
 * 3 % of them UNDELIV); BENCH_FEEDBACK_RECEIPTS scales it. Its own Postgres database, so no other bench's receipts are in the way.
 *
 * - `apply`: the receipts already stored (as the gateways' sink writes them), the processor drains them.
 * - `store + apply`: the sink's batched INSERTs (5,000 rows a statement) and then the processor.
 * - baseline: one UPDATE per receipt, the obvious code (and not even multipart-correct).
 */

// BENCH_FEEDBACK_RECEIPTS scales the whole case down (or up) for a quicker run; the mix stays.
const RECEIPTS = Number(process.env.BENCH_FEEDBACK_RECEIPTS ?? 1_000_000);
const SINGLE = Math.round(RECEIPTS * 0.75);
const DOUBLE = Math.round(RECEIPTS * 0.1);
const MESSAGES = SINGLE + DOUBLE;
const GATEWAY = 'bench';
const DATABASE_URL = (() => {
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = '/quanke_bench_feedback';
  return url.toString();
})();

let db: Db;
let campaignId: string;
let receipts: GatewayReceipt[] = [];
const silent = createLogger('silent');

async function seed(database: Db): Promise<void> {
  await sql`TRUNCATE campaigns, message_parts, gateway_receipts, feedback_dead_letters`.execute(database);
  for (const table of (await sql<{ t: string }>`SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'message_ledger_%'`.execute(database)).rows) {
    await sql.raw(`DROP TABLE ${table.t}`).execute(database);
  }
  campaignId = randomUUID();
  await sql`
    INSERT INTO campaigns (id, name, class, segment_id, exclusion_policy, channel, message, schedule, throttle, control_percent,
      gateway, status, launched_by, launched_at, created_by, updated_by)
    VALUES (${campaignId}, 'receipt bench', 'marketing', ${randomUUID()}, 'default', 'sms', '{"text":"x"}', '{}', '{}', 0,
      ${GATEWAY}, 'completed', 'bench', now(), 'bench', 'bench')`.execute(database);
  const partition = ledgerPartition(campaignId);
  await sql.raw(`CREATE TABLE ${partition} PARTITION OF message_ledger FOR VALUES IN ('${campaignId}') WITH (fillfactor = 70)`).execute(database);
  // Messages [0, SINGLE) have one part, [SINGLE, MESSAGES) two; gateway ids as an SMSC hands them out.
  await sql`
    INSERT INTO message_ledger (campaign_id, seq, customer_id, msisdn, is_control, status, parts, submitted_at)
    SELECT ${campaignId}::uuid, s, 1000000 + s, (13000000000 + s)::text, false, 'submitted', CASE WHEN s < ${SINGLE} THEN 1 ELSE 2 END, now()
    FROM generate_series(0, ${MESSAGES - 1}) s`.execute(database);
  await sql`
    INSERT INTO message_parts (gateway, gateway_message_id, campaign_id, seq, part, submitted_at)
    SELECT ${GATEWAY}, to_hex(100000000 + s * 2 + p), ${campaignId}::uuid, s, p + 1, now()
    FROM generate_series(0, ${MESSAGES - 1}) s CROSS JOIN generate_series(0, 1) p
    WHERE p = 0 OR s >= ${SINGLE}`.execute(database);
  await sql`VACUUM ANALYZE message_parts`.execute(database);
  await sql.raw(`VACUUM ANALYZE ${partition}`).execute(database);
}

/** One final receipt per part (3 % UNDELIV), 5 % of the total repeated, all shuffled (seeded). */
function drawReceipts(): GatewayReceipt[] {
  let state = 42;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const ids: string[] = [];
  for (let s = 0; s < MESSAGES; s++) {
    ids.push((100_000_000 + s * 2).toString(16));
    if (s >= SINGLE) ids.push((100_000_000 + s * 2 + 1).toString(16));
  }
  const now = new Date();
  const out: GatewayReceipt[] = ids.map((id) => {
    const failed = random() < 0.03;
    return { gateway: GATEWAY, gatewayMessageId: id, status: failed ? 'UNDELIV' : 'DELIVRD', errorCode: failed ? '001' : null, doneAt: now, receivedAt: now };
  });
  while (out.length < RECEIPTS) out.push({ ...out[Math.floor(random() * ids.length)]! });
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function resetLedger(): Promise<void> {
  await sql.raw(`UPDATE ${ledgerPartition(campaignId)} SET status = 'submitted', error_code = NULL, final_at = NULL WHERE status <> 'submitted'`).execute(db);
  await sql`TRUNCATE gateway_receipts`.execute(db);
}

async function storeReceipts(): Promise<void> {
  for (let i = 0; i < receipts.length; i += 5_000) await insertGatewayReceipts(db, receipts.slice(i, i + 5_000));
}

async function checkOutcome(): Promise<void> {
  const counts = await sql<{ status: string; n: number }>`
    SELECT status, count(*)::int AS n FROM message_ledger WHERE campaign_id = ${campaignId} GROUP BY status`.execute(db);
  const left = counts.rows.find((r) => r.status === 'submitted')?.n ?? 0;
  if (left !== 0) throw new Error(`${left} messages still submitted after every receipt was applied`);
}

const processor = () => new ReceiptProcessor({ db, logger: silent, graceSeconds: 900, expiryHours: 72 });

const cases: BenchCase[] = [
  {
    operation: 'apply receipts (stored, shuffled, 5 % dup, batched)',
    size: RECEIPTS,
    rows: RECEIPTS,
    runs: 1,
    baseline: 'apply receipts: one UPDATE per receipt',
    async prepare() {
      await resetLedger();
      await storeReceipts();
      await sql`VACUUM ANALYZE gateway_receipts`.execute(db);
    },
    async run() {
      const pass = await processor().applyPending();
      if (pass?.receipts !== RECEIPTS) throw new Error(`applied ${pass?.receipts} receipts, expected ${RECEIPTS}`);
      await checkOutcome();
      return RECEIPTS;
    },
  },
  {
    operation: 'store + apply receipts (sink INSERTs of 5,000, then batched apply)',
    size: RECEIPTS,
    rows: RECEIPTS,
    runs: 1,
    baseline: 'apply receipts: one UPDATE per receipt',
    prepare: resetLedger,
    async run() {
      await storeReceipts();
      await processor().applyPending();
      await checkOutcome();
      return RECEIPTS;
    },
  },
  {
    operation: 'apply receipts: one UPDATE per receipt',
    size: RECEIPTS,
    rows: RECEIPTS,
    runs: 1,
    prepare: resetLedger,
    async run() {
      // What a first version would write: look the part up and move its message, receipt by receipt.
      for (const r of receipts) {
        await sql`
          UPDATE message_ledger l SET status = ${r.status === 'DELIVRD' ? 'delivered' : 'failed'}, error_code = ${r.errorCode}, final_at = ${r.doneAt}
          FROM message_parts p
          WHERE p.gateway = ${r.gateway} AND p.gateway_message_id = ${r.gatewayMessageId}
            AND l.campaign_id = p.campaign_id AND l.seq = p.seq AND l.status = 'submitted'`.execute(db);
      }
      return RECEIPTS;
    },
  },
];

export const bench: BenchSuite = {
  name: 'feedback',
  async setup(ctx) {
    await ensureDatabase(DATABASE_URL);
    db = createDb(DATABASE_URL, 4);
    await migrateToLatest(db);
    ctx.log(`feedback: seeding ${MESSAGES} sent messages (${SINGLE + 2 * DOUBLE} parts)`);
    await seed(db);
    receipts = drawReceipts();
  },
  cases,
  async teardown() {
    await db?.destroy();
  },
};
