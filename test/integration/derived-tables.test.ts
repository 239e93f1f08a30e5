import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { createTestContext, deleteQueueKeys, type TestContext } from '../helpers/context.js';

describe('derived tables', () => {
  let dir: string | undefined;
  // The context is closed by hand mid-test (to reopen its warehouse file); only its folder is left.
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('are rebuilt at start when USAGE_WINDOW_MONTHS changed since they were built', async () => {
    const ctx: TestContext = await createTestContext({ USAGE_WINDOW_MONTHS: '6' });
    dir = ctx.dir;
    writeFileSync(
      path.join(ctx.dir, 'usage.csv'),
      'customer_id,month,arpu,mou,data_mb,sms_count\n1,2026-09-01,1,1,100,1\n1,2026-10-01,1,1,200,1\n',
    );
    await ctx.container.imports.importFile({ dataset: 'usage_monthly', path: 'usage.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
    const columns = async (c: Container) =>
      (
        await c.warehouse.query<{ name: string }>(
          `SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'customer_profile' AND column_name LIKE 'u_data_mb_m%' ORDER BY 1`,
        )
      ).map((r) => r.name);
    expect(await columns(ctx.container)).toEqual(['u_data_mb_m1', 'u_data_mb_m2', 'u_data_mb_m3', 'u_data_mb_m4', 'u_data_mb_m5', 'u_data_mb_m6']);

    // Reopen the same warehouse file with a shorter window: the profile follows the setting.
    await ctx.app.close();
    await ctx.container.close();
    const reopened = await createContainer({ ...ctx.config, USAGE_WINDOW_MONTHS: 2 }, createLogger('silent'));
    try {
      expect(await columns(reopened)).toEqual(['u_data_mb_m1', 'u_data_mb_m2']);
      const pivot = await reopened.warehouse.query('SELECT u_data_mb_m1, u_data_mb_m2 FROM usage_pivot WHERE customer_id = 1');
      expect(pivot).toEqual([{ u_data_mb_m1: 200, u_data_mb_m2: 100 }]);
    } finally {
      await deleteQueueKeys(reopened, ctx.config.QUEUE_PREFIX);
      await reopened.close();
    }
  });
});
