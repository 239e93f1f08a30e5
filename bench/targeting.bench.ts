import type { Container } from '../src/container.js';
import { SYSTEM_ACTOR } from '../src/security/roles.js';
import { PROFILE_TABLE } from '../src/warehouse/schema.js';
import { segmentMembersTable, targetingTable } from '../src/warehouse/tables.js';
import { compileFirstRemovingStep, type FunnelEntry } from '../src/exclusions/funnel.js';
import { TargetingEngine, type Materialised } from '../src/exclusions/targeting.engine.js';
import { TargetingService, type TargetingBitmaps } from '../src/exclusions/targeting.service.js';
import type { PreparedCondition } from '../src/conditions/condition.service.js';
import { SqlParams } from '../src/conditions/params.js';
import { sizeLabel, type BenchCase, type BenchContext, type BenchSuite } from './harness.js';
import { LIST_EXPIRES_ACTIVE, LIST_EXPIRES_LAPSED } from './lists.js';

/**
 * Targeting through the default policy (9 steps) and the incremental list mirror, on the bench
 * warehouse. The engine's per-step counts are checked against the literal form of DESIGN.md's
 * funnel (`CASE WHEN <step 1> THEN 1 …` with one IN-lookup per step), written out here by hand; that
 * form is also the baseline the engine's set-wise form is compared with. The whole service call
 * runs twice: with the funnel in SQL, then on the bitmap index (issue 16) at the SQL run's instant,
 * whose funnel and run table (every row, control flags included) must equal the SQL run's.
 *
 * Contact history is seeded straight into DuckDB (2 rows per customer, 20M at 10M, over the last
 * 90 days, negative ids so they never meet a mirrored Postgres id): loading 20M rows through
 * Postgres and the mirror would measure the loader, not targeting.
 */

const actor = { ...SYSTEM_ACTOR, name: 'bench' };
const DAY = 86_400_000;
const POLICY_LISTS = ['blacklist', 'complaint', 'opt_out', 'dnd', 'greylist'] as const;
const PRODUCT = 'P5G';
const CATEGORY = '5g';
const CATEGORIES = ['5g', 'family', 'broadband', 'video', 'music', 'data'];
const CONTACTS_PER_CUSTOMER = 2;
const MIRROR_LIST = 'bench_mirror';
const MIRROR_CHANGES = 100_000;
/** About half the customers: ~5M members at 10M (the segments bench uses the same half). */
const HALF = { field: 'brand', op: 'eq', value: 'easyown' };

interface Prepared {
  container: Container;
  segmentId: string;
  members: number;
  mirrorNumbers: string[];
  /** Targeting with the funnel in SQL, whatever SEGMENT_ENGINE says. */
  sql: TargetingService;
  /** Targeting with the funnel on the bitmap index, at the instant of the last SQL run (so their answers compare). */
  bitmaps: TargetingService;
}

const prepared = new Map<number, Promise<Prepared>>();
const lastRun = new Map<number, { id: string; asOf: string; funnel: FunnelEntry[]; control: number; target: number }>();
const lastBitmapRun = new Map<number, string>();
/** Where the last run's first removing steps came from (the bitmap case must not fall back). */
let lastSource: Materialised['source'] | undefined;

function prepare(ctx: BenchContext, size: number): Promise<Prepared> {
  let p = prepared.get(size);
  if (!p) {
    p = prepareSize(ctx, size);
    prepared.set(size, p);
  }
  return p;
}

async function prepareSize(ctx: BenchContext, size: number): Promise<Prepared> {
  const [container, fixture] = await Promise.all([ctx.quanke(size), ctx.fixtures(size)]);
  await loadPolicyLists(ctx, container, fixture.listsFile, size);
  await container.mirror.sync();
  await seedContactHistory(ctx, container, size);
  const segment = await container.segments.create({ name: `bench targeting half ${sizeLabel(size)}`, condition: HALF }, actor);
  ctx.log(`targeting ${sizeLabel(size)}: segment of ${segment.count} members`);
  if (!(await container.lists.exists(MIRROR_LIST))) {
    await container.lists.create({ name: MIRROR_LIST, label: 'bench: mirror throughput' }, actor);
  }
  const numbers = await container.warehouse.query<{ msisdn: string }>(
    `SELECT msisdn FROM customers WHERE msisdn IS NOT NULL ORDER BY hash(customer_id, 'mirror') LIMIT ${MIRROR_CHANGES}`,
  );
  const targeting = (bitmaps: TargetingBitmaps | undefined, now?: () => Date) => {
    const engine = new TargetingEngine(container.warehouse);
    const materialise = engine.materialise.bind(engine);
    engine.materialise = async (request) => {
      const made = await materialise(request);
      lastSource = made.source;
      return made;
    };
    const { db, policies, conditions, segments, mirror, config } = container;
    return new TargetingService({ db, engine, policies, conditions, segments, mirror, msisdnPattern: config.MSISDN_PATTERN, bitmaps, now });
  };
  const asOf = () => {
    const run = lastRun.get(size);
    if (!run) throw new Error('the SQL targeting case must run first');
    return new Date(run.asOf);
  };
  return {
    container,
    segmentId: segment.id,
    members: segment.count ?? 0,
    mirrorNumbers: numbers.map((r) => r.msisdn),
    sql: targeting(undefined),
    bitmaps: targeting(container.bitmaps, asOf),
  };
}

/** Throws unless the bitmap run answered exactly as the SQL run: funnel, counts and every row of the run table. */
async function checkSameRun(p: Prepared, size: number, bitmapRunId: string): Promise<void> {
  const sql = lastRun.get(size)!;
  const bitmap = await p.bitmaps.get(bitmapRunId);
  if (JSON.stringify(bitmap.funnel) !== JSON.stringify(sql.funnel) || bitmap.control !== sql.control || bitmap.target !== sql.target) {
    throw new Error(`${sizeLabel(size)}: the bitmap run's funnel differs from the SQL run's: ${JSON.stringify(bitmap.funnel)} against ${JSON.stringify(sql.funnel)}`);
  }
  const [diff] = await p.container.warehouse.query<{ n: number }>(
    `SELECT count(*) AS n FROM (
       (SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(bitmapRunId)} EXCEPT ALL SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(sql.id)})
       UNION ALL
       (SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(sql.id)} EXCEPT ALL SELECT customer_id, removed_by_step, is_control FROM ${targetingTable(bitmapRunId)}))`,
  );
  if ((diff?.n ?? 0) !== 0) throw new Error(`${sizeLabel(size)}: ${diff!.n} rows differ between the bitmap and the SQL run tables`);
}

/** The five lists of the default policy from the fixture's lists file, through the list service, once. */
async function loadPolicyLists(ctx: BenchContext, container: Container, listsFile: string, size: number): Promise<void> {
  const { lists, warehouse, db } = container;
  const have = new Map((await lists.list()).map((l) => [l.name, l.entries + l.expired]));
  for (const list of POLICY_LISTS) {
    const wanted = await warehouse.query<{ msisdn: string; expires_at: string | null }>(
      `SELECT msisdn, expires_at FROM read_csv($1, header = true, columns = {'list_name': 'VARCHAR', 'msisdn': 'VARCHAR', 'reason': 'VARCHAR', 'expires_at': 'VARCHAR'})
       WHERE list_name = $2 ORDER BY msisdn`,
      [listsFile, list],
    );
    if (have.get(list) === wanted.length) continue;
    ctx.log(`targeting ${sizeLabel(size)}: adding ${wanted.length} ${list} entries`);
    const expiresAt = list === 'greylist' ? new Date(LIST_EXPIRES_ACTIVE) : null;
    for (let i = 0; i < wanted.length; i += 50_000) {
      const batch = wanted.slice(i, i + 50_000).map((r) => r.msisdn);
      await lists.addEntries(list, batch, { reason: 'bench', source: 'api', expiresAt }, actor);
    }
    // The list API refuses a past expiry; lapsed greylist entries are as if added long ago.
    const lapsed = wanted.filter((r) => r.expires_at !== null && new Date(r.expires_at).getTime() === new Date(LIST_EXPIRES_LAPSED).getTime());
    for (let i = 0; i < lapsed.length; i += 50_000) {
      await db
        .updateTable('list_entries')
        .set({ expires_at: new Date(LIST_EXPIRES_LAPSED), updated_at: new Date() })
        .where('list_name', '=', list)
        .where('msisdn', 'in', lapsed.slice(i, i + 50_000).map((r) => r.msisdn))
        .execute();
    }
  }
}

/** 2 contacts per customer over the last 90 days, in time order; redrawn when a day old. */
async function seedContactHistory(ctx: BenchContext, container: Container, size: number): Promise<void> {
  const rows = CONTACTS_PER_CUSTOMER * size;
  const [state] = await container.warehouse.query<{ n: number; newest: Date | null }>(
    'SELECT count(*) AS n, max(sent_at) AS newest FROM contact_history WHERE id < 0',
  );
  const fresh = state?.newest && Date.now() - new Date(state.newest).getTime() < DAY;
  if (state?.n === rows && fresh) return;
  ctx.log(`targeting ${sizeLabel(size)}: seeding ${rows} contact-history rows in DuckDB`);
  const campaigns = CATEGORIES.flatMap((c) => [1, 2, 3, 4, 5].map((w) => `'bench-${c}-${w}'`));
  const categories = CATEGORIES.flatMap((c) => [1, 2, 3, 4, 5].map(() => `'${c}'`));
  await container.warehouse.write(async (c) => {
    await c.run('DELETE FROM contact_history WHERE id < 0');
    await c.run(
      `INSERT INTO contact_history (id, customer_id, campaign_id, category, sent_at)
       SELECT -(i + 1), 1 + CAST(hash(i, 'who') % ${size} AS BIGINT),
         [${campaigns.join(', ')}][CAST(k AS INTEGER) + 1], [${categories.join(', ')}][CAST(k AS INTEGER) + 1],
         CAST($1 AS TIMESTAMPTZ) - to_microseconds(CAST(hash(i, 'when') % ${90 * DAY * 1000} AS BIGINT))
       FROM (SELECT i, hash(i, 'campaign') % ${campaigns.length} AS k FROM range(${rows}) t(i))
       ORDER BY 5`,
      [new Date().toISOString()],
    );
  });
}

/** DESIGN.md's funnel taken literally: one CASE, one IN-lookup of every member per step. */
function caseFormSql(membersTable: string): string {
  const lists = POLICY_LISTS.map(
    (list, i) =>
      `WHEN c.customer_id IN (SELECT customer_id FROM list_members WHERE list_name = '${list}' AND (expires_at IS NULL OR expires_at > CAST($1 AS TIMESTAMPTZ))) THEN ${i + 1}`,
  );
  return `CREATE OR REPLACE TEMP TABLE _bench_case_form AS
    SELECT m.customer_id, CASE
      ${lists.join('\n      ')}
      WHEN c.customer_id IN (SELECT customer_id FROM contact_history WHERE sent_at >= CAST($2 AS TIMESTAMPTZ)) THEN 6
      WHEN c.customer_id IN (SELECT customer_id FROM contact_history WHERE sent_at >= CAST($3 AS TIMESTAMPTZ) AND category = $4) THEN 7
      WHEN c.customer_id IN (SELECT customer_id FROM subscriptions WHERE product_id = $5 AND (end_date IS NULL OR end_date >= CAST($6 AS DATE))) THEN 8
      WHEN c.status IS DISTINCT FROM 'active' THEN 9
      ELSE 0 END AS removed_by_step
    FROM ${membersTable} m JOIN ${PROFILE_TABLE} c ON c.customer_id = m.customer_id`;
}

function localDate(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

function cases(ctx: BenchContext): BenchCase[] {
  const out: BenchCase[] = [];
  for (const size of ctx.sizes) {
    const label = sizeLabel(size);
    const caseForm = 'funnel statement as one CASE of IN-lookups (DESIGN.md literally)';
    const sqlRun = 'targeting: default policy (9 steps) over ~half the customers, control 5% (whole service call)';
    const request = { policy: 'default', productId: PRODUCT, category: CATEGORY, controlGroupPercent: 5, seed: 'bench' };
    out.push({
      operation: sqlRun,
      size,
      // A median, not the adaptive single cold run: the 2 s target is about the typical call.
      runs: 5,
      async prepare() {
        const p = await prepare(ctx, size);
        const previous = lastRun.get(size);
        if (previous) await p.container.warehouse.write((c) => c.run(`DROP TABLE IF EXISTS ${targetingTable(previous.id)}`));
      },
      async run() {
        const p = await prepare(ctx, size);
        const run = await p.sql.run({ segmentId: p.segmentId, ...request }, actor);
        lastRun.set(size, { id: run.id, asOf: run.asOf, funnel: run.funnel, control: run.control, target: run.target });
        return p.members;
      },
    });
    out.push({
      operation: 'targeting: the same, funnel on the bitmap index (SEGMENT_ENGINE=bitmap)',
      size,
      baseline: sqlRun,
      target: size >= 10_000_000 ? { ms: 500 } : undefined,
      // The first run reads the segment, list and column bitmaps into the index; the median is the warm call.
      runs: 5,
      async prepare() {
        const p = await prepare(ctx, size);
        const previous = lastBitmapRun.get(size);
        if (previous) {
          await checkSameRun(p, size, previous);
          await p.container.warehouse.write((c) => c.run(`DROP TABLE IF EXISTS ${targetingTable(previous)}`));
          lastBitmapRun.delete(size);
        }
      },
      async run() {
        const p = await prepare(ctx, size);
        lastSource = undefined;
        // At the last SQL run's instant (the service's clock), so the answers must be equal.
        const run = await p.bitmaps.run({ segmentId: p.segmentId, ...request }, actor);
        lastBitmapRun.set(size, run.id);
        if (lastSource !== 'bitmaps') throw new Error(`${label}: the bitmap run took its funnel from ${lastSource ?? 'nowhere'}`);
        return p.members;
      },
    });
    out.push({
      operation: 'funnel statement as the engine runs it (set-wise first removing step)',
      size,
      baseline: caseForm,
      async run() {
        const p = await prepare(ctx, size);
        const run = lastRun.get(size);
        if (!run) throw new Error('the targeting case must run first');
        const policy = await p.container.policies.get('default');
        const conditions = new Map<number, PreparedCondition>();
        for (const [i, step] of policy.steps.entries()) {
          if (step.type === 'condition') conditions.set(i, await p.container.conditions.prepare(step.condition, `steps[${i}].condition`, { role: 'admin' }));
        }
        const asOf = new Date(run.asOf);
        const params = new SqlParams();
        const compiled = compileFirstRemovingStep(policy.steps, { asOf, today: localDate(asOf), productId: PRODUCT, category: CATEGORY, conditions }, params);
        await p.container.warehouse.write(async (c) => {
          await c.run(
            `CREATE OR REPLACE TEMP TABLE _bench_set_form AS
             SELECT m.customer_id, CAST(coalesce(r.step, 0) AS SMALLINT) AS removed_by_step
             FROM ${segmentMembersTable(p.segmentId)} m LEFT JOIN (${compiled.sql}) r ON r.customer_id = m.customer_id`,
            params.values,
          );
          await c.run('DROP TABLE temp.main._bench_set_form');
        });
        return p.members;
      },
    });
    out.push({
      operation: caseForm,
      size,
      async run() {
        const p = await prepare(ctx, size);
        const run = lastRun.get(size);
        if (!run) throw new Error('the targeting case must run first');
        const asOf = new Date(run.asOf);
        // A TEMP table lives on the write connection: count it there.
        const counts = await p.container.warehouse.write(async (c) => {
          await c.run(caseFormSql(segmentMembersTable(p.segmentId)), [
            asOf.toISOString(),
            new Date(asOf.getTime() - 7 * DAY).toISOString(),
            new Date(asOf.getTime() - 30 * DAY).toISOString(),
            CATEGORY,
            PRODUCT,
            localDate(asOf),
          ]);
          const result = await c.runAndReadAll('SELECT removed_by_step AS step, count(*) AS n FROM temp.main._bench_case_form GROUP BY ALL');
          await c.run('DROP TABLE temp.main._bench_case_form');
          return result.getRowObjectsJS() as Array<{ step: number; n: bigint }>;
        });
        const removed = new Map(counts.map((r) => [Number(r.step), Number(r.n)]));
        for (const entry of run.funnel) {
          if (!('index' in entry)) continue;
          const expected = removed.get(entry.index) ?? 0;
          if (entry.removed !== expected) {
            throw new Error(`${label}: step ${entry.index} (${entry.step}) removed ${entry.removed}, the CASE form ${expected}`);
          }
        }
        return p.members;
      },
    });

    let round = 0;
    out.push({
      operation: `list mirror: ${MIRROR_CHANGES / 1000}k entries with a new expiry`,
      size,
      async prepare() {
        const p = await prepare(ctx, size);
        await p.container.mirror.sync();
        round += 1;
        // A new expiry each round: every entry's mirrored state changes.
        const expiresAt = new Date(Date.now() + (30 + round) * DAY);
        await p.container.lists.addEntries(MIRROR_LIST, p.mirrorNumbers, { reason: 'bench', source: 'api', expiresAt }, actor);
      },
      async run() {
        const p = await prepare(ctx, size);
        const pass = await p.container.mirror.sync();
        const changed = p.mirrorNumbers.length;
        if (pass.lists.applied < changed) throw new Error(`${label}: the mirror applied ${pass.lists.applied} of ${changed} changes`);
        return changed;
      },
    });
    out.push({
      operation: `list mirror: ${MIRROR_CHANGES / 1000}k new entries, resolved through every customer`,
      size,
      async prepare() {
        const p = await prepare(ctx, size);
        // Removed (and mirrored as removed) first, so the timed pass adds them back as new entries.
        await p.container.db
          .updateTable('list_entries')
          .set({ deleted_at: new Date(), deleted_by: 'bench', updated_at: new Date(), updated_by: 'bench' })
          .where('list_name', '=', MIRROR_LIST)
          .where('deleted_at', 'is', null)
          .execute();
        await p.container.mirror.sync();
        await p.container.lists.addEntries(MIRROR_LIST, p.mirrorNumbers, { reason: 'bench', source: 'api', expiresAt: null }, actor);
      },
      async run() {
        const p = await prepare(ctx, size);
        const pass = await p.container.mirror.sync();
        const changed = p.mirrorNumbers.length;
        if (pass.lists.applied < changed) throw new Error(`${label}: the mirror applied ${pass.lists.applied} of ${changed} new entries`);
        return changed;
      },
    });
  }
  return out;
}

export const bench: BenchSuite = {
  name: 'targeting',
  cases,
  async teardown(ctx) {
    for (const [size, p] of prepared) {
      const { container, segmentId } = await p;
      const bitmapRun = lastBitmapRun.get(size);
      if (bitmapRun) {
        await checkSameRun(await p, size, bitmapRun).catch((error: unknown) => ctx.log(`targeting: ${String(error)}`));
        await container.warehouse.write((c) => c.run(`DROP TABLE IF EXISTS ${targetingTable(bitmapRun)}`));
      }
      const run = lastRun.get(size);
      if (run) await container.warehouse.write((c) => c.run(`DROP TABLE IF EXISTS ${targetingTable(run.id)}`));
      await container.segments.delete(segmentId, actor).catch((error: unknown) => ctx.log(`targeting: segment not deleted: ${String(error)}`));
    }
  },
};
