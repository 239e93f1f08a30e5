import type { JobHandlers } from './job-types.js';

export interface MaintenanceDeps {
  mirror: { sync(): Promise<unknown> };
}

/** Handlers of the `maintenance` queue, run by the worker embedded in the API process (it owns DuckDB). */
export function maintenanceHandlers(deps: MaintenanceDeps): JobHandlers<'maintenance'> {
  return {
    'mirror.sync': async () => deps.mirror.sync(),
  };
}
