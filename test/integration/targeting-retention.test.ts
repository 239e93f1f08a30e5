import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { targetingTable } from '../../src/warehouse/tables.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { loadSample } from '../helpers/sample.js';

describe('retention of targeting preview results', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
    await loadSample(ctx);
  });
  afterAll(async () => ctx?.close());

  const tableExists = async (runId: string) =>
    (await ctx.container.warehouse.query<{ n: number }>('SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = $1', [
      targetingTable(runId).slice(1, -1),
    ]))[0]!.n === 1;

  it('drops the per-customer results of old previews only, and explain then says they are gone', async () => {
    const segment = await ctx.container.segments.create(
      { name: `retention-${Date.now()}`, condition: { field: 'brand', op: 'eq', value: 'gotone' } },
      SYSTEM_ACTOR,
    );
    const old = await ctx.container.targeting.run({ segmentId: segment.id }, SYSTEM_ACTOR);
    const recent = await ctx.container.targeting.run({ segmentId: segment.id }, SYSTEM_ACTOR);
    // created_at is never updated by the product; the test ages its own run by hand.
    await sql`UPDATE targeting_runs SET created_at = now() - interval '8 days' WHERE id = ${old.id}`.execute(ctx.container.db);

    await ctx.container.targeting.pruneResults(7);
    expect(await tableExists(old.id)).toBe(false);
    expect(await tableExists(recent.id)).toBe(true);
    expect((await ctx.container.targeting.get(old.id)).funnel).toEqual(old.funnel);

    const msisdn = (await ctx.container.warehouse.query<{ msisdn: string }>('SELECT msisdn FROM customers LIMIT 1'))[0]!.msisdn;
    await expect(ctx.container.targeting.explain(old.id, msisdn, SYSTEM_ACTOR)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ctx.container.targeting.explain(recent.id, msisdn, SYSTEM_ACTOR)).resolves.toBeDefined();
  });
});
