import { sql, type Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
//
// Every import attempt is recorded: as `running` before it reads the file, so an import killed
// mid-way still leaves its record, which the next start closes as `interrupted`.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE imports DROP CONSTRAINT imports_status_check`.execute(db);
  await sql`ALTER TABLE imports ADD CONSTRAINT imports_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`UPDATE imports SET status = 'failed' WHERE status IN ('running', 'interrupted')`.execute(db);
  await sql`ALTER TABLE imports DROP CONSTRAINT imports_status_check`.execute(db);
  await sql`ALTER TABLE imports ADD CONSTRAINT imports_status_check CHECK (status IN ('succeeded', 'failed'))`.execute(db);
}
