import type { Kysely } from 'kysely';

// Frozen in time: migrations never import application code.
// `GET /v1/audit` filters by actor or action and pages newest first by id; without these an
// uncommon actor means walking the whole log backwards.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('audit_log_actor_id_idx').on('audit_log').columns(['actor', 'id']).execute();
  await db.schema.createIndex('audit_log_action_id_idx').on('audit_log').columns(['action', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_log_action_id_idx').execute();
  await db.schema.dropIndex('audit_log_actor_id_idx').execute();
}
