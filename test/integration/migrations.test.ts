import { Migrator, NO_MIGRATIONS, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';
import { createDb, ensureDatabase } from '../../src/db/kysely.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';

describe('migrations', () => {
  const url = ownDatabaseUrl();
  afterAll(async () => dropOwnDatabase(url));

  it('create the database, apply every migration in order, are idempotent, and roll all the way back', async () => {
    await ensureDatabase(url);
    await ensureDatabase(url); // a second start finds it and does nothing
    const db = createDb(url, 2);
    try {
      const first = await migrateToLatest(db);
      expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual(
        Object.keys(migrations).map((name) => [name, 'Success']),
      );
      expect((await migrateToLatest(db)).results).toEqual([]);

      const tables = await sql<{ table_name: string }>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`.execute(db);
      const names = tables.rows.map((r) => r.table_name);
      for (const table of ['imports', 'audit_log', 'api_keys', 'rules', 'segments', 'lists', 'list_entries']) {
        expect(names).toContain(table);
      }

      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      expect(down.error).toBeUndefined();
      const left = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM information_schema.tables
        WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'`.execute(db);
      expect(left.rows[0]!.n).toBe(0);
    } finally {
      await db.destroy();
    }
  });
});
