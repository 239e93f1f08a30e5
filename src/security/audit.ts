import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Actor } from './roles.js';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null;
  before?: unknown;
  after?: unknown;
  details?: unknown;
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/**
 * Appends one audit row on the caller's connection or transaction, so the record commits or rolls
 * back with the change it describes.
 */
export async function recordAudit(db: Kysely<Database>, actor: Actor, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor: actor.name,
      actor_role: actor.role,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId ?? null,
      ip: actor.ip ?? null,
      request_id: actor.requestId ?? null,
      before: json(entry.before),
      after: json(entry.after),
      details: json(entry.details),
    })
    .execute();
}
