import { Migrator, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { Db } from './kysely.js';

/** Brings the schema to the latest migration; concurrent callers are serialised by Kysely's lock table. */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Numbers were handed out to features built in parallel, so a database may have run 0003 before
    // 0002 landed; each migration touches only its own tables, so applying it late is safe.
    allowUnorderedMigrations: true,
  });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}
