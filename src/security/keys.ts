import { createHash, randomBytes } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Role } from './roles.js';

/**
 * API keys are random 32-byte secrets shown once; only a SHA-256 hash is stored (a slow hash buys
 * nothing against 256 bits of entropy, and every request verifies one).
 */
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** `qk_<8 hex prefix>_<43 base64url>`: the prefix identifies a key in listings without revealing it. */
export const KEY_SECRET_PATTERN = /qk_([0-9a-f]{8})_[A-Za-z0-9_-]{16,}/;

export interface CreatedKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  /** The whole key; it cannot be shown again. */
  key: string;
  expiresAt: Date | null;
  createdAt: Date;
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
    .returning(['id', 'created_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, name: input.name, role: input.role, prefix, key, expiresAt: input.expiresAt ?? null, createdAt: row.created_at };
}

export interface KeyPrincipal {
  keyId: string;
  name: string;
  role: Role;
  lastUsedAt: Date | null;
}

/** A key that is neither revoked nor expired. */
function stillWorks(eb: ExpressionBuilder<Database, 'api_keys'>) {
  return eb.and([eb('revoked_at', 'is', null), eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())])]);
}

/** The key's holder when the key exists, is not revoked and has not expired. */
export async function findActiveKey(db: Kysely<Database>, secret: string): Promise<KeyPrincipal | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'name', 'role', 'last_used_at'])
    .where('key_hash', '=', hashKey(secret))
    .where(stillWorks)
    .executeTakeFirst();
  return row ? { keyId: row.id, name: row.name, role: row.role, lastUsedAt: row.last_used_at } : undefined;
}

/** How stale `last_used_at` may get: one write per key per minute, not one per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Stamps `last_used_at` unless it was stamped within the last minute. The guard sits in the
 * statement too, so concurrent requests of one key still change the row at most once a minute.
 */
export async function touchKeyLastUsed(db: Kysely<Database>, principal: KeyPrincipal, now = new Date()): Promise<boolean> {
  if (principal.lastUsedAt && now.getTime() - principal.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return false;
  const result = await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`now()` })
    .where('id', '=', principal.keyId)
    .where((eb) =>
      eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - make_interval(secs => ${LAST_USED_RESOLUTION_MS / 1000})`)]),
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const keyColumns = ['id', 'name', 'role', 'prefix', 'created_by', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'] as const;

function toKeyRow(row: {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}): ApiKeyRow {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** Every key, newest first; never the hash. */
export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyRow[]> {
  const rows = await db.selectFrom('api_keys').select(keyColumns).orderBy('created_at', 'desc').orderBy('id').execute();
  return rows.map(toKeyRow);
}

export async function findApiKeyById(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  const row = await db.selectFrom('api_keys').select(keyColumns).where('id', '=', id).executeTakeFirst();
  return row ? toKeyRow(row) : undefined;
}

/** Keys of that name that still work (names are not unique: a holder may overlap keys while rotating). */
export async function findActiveKeysByName(db: Kysely<Database>, name: string): Promise<ApiKeyRow[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(keyColumns)
    .where('name', '=', name)
    .where(stillWorks)
    .execute();
  return rows.map(toKeyRow);
}

/** Revokes the key if it is not revoked yet; the row as it is afterwards. */
export async function revokeApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  const row = await db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returning(keyColumns)
    .executeTakeFirst();
  return row ? toKeyRow(row) : undefined;
}

/** Admin keys that still work, optionally not counting one (the key about to be revoked). */
export async function countActiveAdminKeys(db: Kysely<Database>, exceptId?: string): Promise<number> {
  let query = db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'admin')
    .where(stillWorks);
  if (exceptId) query = query.where('id', '!=', exceptId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Serialises admin-key bootstrap across processes starting at once (transaction-scoped lock). */
export async function lockKeyBootstrap(trx: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('quanke.api_keys.bootstrap'))`.execute(trx);
}
