import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { loadSampleWarehouse } from '../../src/warehouse/sample.js';
import type { TestContext } from './context.js';

/** Imports fixtures/sample/*.csv (2,000 customers) into the context's own warehouse. */
export async function loadSample(ctx: TestContext): Promise<void> {
  await loadSampleWarehouse(ctx.container.imports, SYSTEM_ACTOR);
}
