import type { Container, CoreContainer } from '../container.js';
import type { RunningApi } from './running-api.js';

/**
 * One CLI command, declared beside its feature and dispatched by src/cli.ts. `core` commands run
 * on Postgres and Redis alone (so they work while the API serves); `warehouse` commands go through
 * the running API, which owns the DuckDB file, and open it themselves only when no API answers.
 */
export type CliCommand =
  | { summary: string; usage: string; needs: 'core'; run(args: string[], core: CoreContainer): Promise<void> }
  | {
      summary: string;
      usage: string;
      needs: 'warehouse';
      run(args: string[], container: Container): Promise<void>;
      runViaApi(args: string[], api: RunningApi): Promise<void>;
      /** With no API up, these arguments need only Postgres and Redis (e.g. `campaign pause`): run on the core. */
      runsOnCore?(args: string[]): boolean;
      runOnCore?(args: string[], core: CoreContainer): Promise<void>;
    };
