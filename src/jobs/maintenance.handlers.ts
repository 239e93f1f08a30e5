import type { JobHandlers } from './job-types.js';

export interface MaintenanceDeps {
  mirror: { sync(): Promise<unknown> };
  targeting: { pruneResults(retentionDays: number): Promise<number> };
  config: { TARGETING_RETENTION_DAYS: number };
}

/** Handlers of the `maintenance` queue, run by the worker embedded in the API process (it owns DuckDB). */
export function maintenanceHandlers(deps: MaintenanceDeps): JobHandlers<'maintenance'> {
  return {
    'mirror.sync': async () => deps.mirror.sync(),
    'targeting.prune': async () => ({ dropped: await deps.targeting.pruneResults(deps.config.TARGETING_RETENTION_DAYS) }),
  };
}
