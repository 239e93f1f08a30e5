import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from './roles.js';

/**
 * API keys are random 32-byte secrets shown once; only a SHA-256 hash is stored (a slow hash buys
 * nothing against 256 bits of entropy, and every request verifies one).
 */
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface CreatedKey {
  id: string;
  name: string;
  role: Role;
  /** The whole key; it cannot be shown again. */
  key: string;
  expiresAt: Date | null;
}

export async function createApiKey(
  db: Kysely<Database>,
  input: { name: string; role: Role; createdBy: string; expiresAt?: Date | null },
): Promise<CreatedKey> {
  const prefix = randomBytes(4).toString('hex');
  const key = `qk_${prefix}_${randomBytes(32).toString('base64url')}`;
  const row = await db
    .insertInto('api_keys')
    .values({
      name: input.name,
      role: input.role,
      prefix,
      key_hash: hashKey(key),
      created_by: input.createdBy,
      expires_at: input.expiresAt ?? null,
    })
    .returning(['id'])
    .executeTakeFirstOrThrow();
  return { id: row.id, name: input.name, role: input.role, key, expiresAt: input.expiresAt ?? null };
}

export interface KeyPrincipal {
  keyId: string;
  name: string;
  role: Role;
}

/** The key's holder when the key exists, is not revoked and has not expired. */
export async function findActiveKey(db: Kysely<Database>, secret: string): Promise<KeyPrincipal | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role'])
    .where('key_hash', '=', hashKey(secret))
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
    .executeTakeFirst();
  return row ? { keyId: row.id, name: row.name, role: row.role } : undefined;
}
