import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { AppError } from '../http/errors.js';
import { recordAudit } from './audit.js';
import {
  countActiveAdminKeys,
  createApiKey,
  findActiveKeysByName,
  findApiKeyById,
  listApiKeys,
  lockKeyBootstrap,
  revokeApiKey,
  type ApiKeyRow,
  type CreatedKey,
} from './keys.js';
import type { Actor, Role } from './roles.js';

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function keyStatus(key: Pick<ApiKeyRow, 'revokedAt' | 'expiresAt'>, now = new Date()): KeyStatus {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** What an audit row may say about a key: never the secret, never its hash. */
function auditView(key: { id: string; name: string; role: Role; prefix: string; expiresAt: Date | null; revokedAt?: Date | null }) {
  return {
    id: key.id,
    name: key.name,
    role: key.role,
    prefix: key.prefix,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const BOOTSTRAP_ADMIN_NAME = 'local-admin';

/** Creating, listing and revoking API keys; every change is audited in its own transaction. */
export class KeyService {
  constructor(private readonly db: Kysely<Database>) {}

  list(): Promise<ApiKeyRow[]> {
    return listApiKeys(this.db);
  }

  async create(actor: Actor, input: { name: string; role: Role; expiresAt?: Date | null }): Promise<CreatedKey> {
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw new AppError('VALIDATION', 'expiresAt must be in the future', [{ path: 'expiresAt', message: 'must be in the future' }]);
    }
    return this.db.transaction().execute(async (trx) => {
      const created = await createApiKey(trx, { ...input, createdBy: actor.name });
      await recordAudit(trx, actor, { action: 'key.create', targetType: 'api_key', targetId: created.id, after: auditView(created) });
      return created;
    });
  }

  /**
   * Revokes one key, named by id or by name (a name must match exactly one working key). Revoking
   * a revoked key changes nothing. The last working admin key cannot be revoked: nobody could
   * manage keys afterwards except from the CLI.
   */
  async revoke(actor: Actor, idOrName: string): Promise<ApiKeyRow> {
    return this.db.transaction().execute(async (trx) => {
      await lockKeyBootstrap(trx);
      const key = await this.resolve(trx, idOrName);
      if (key.revokedAt) return key;
      if (key.role === 'admin' && keyStatus(key) === 'active' && (await countActiveAdminKeys(trx, key.id)) === 0) {
        throw new AppError('CONFLICT', 'This is the last working admin key; create another admin key before revoking it');
      }
      const revoked = await revokeApiKey(trx, key.id);
      if (!revoked) return (await findApiKeyById(trx, key.id)) ?? key;
      await recordAudit(trx, actor, {
        action: 'key.revoke',
        targetType: 'api_key',
        targetId: key.id,
        before: auditView(key),
        after: auditView(revoked),
      });
      return revoked;
    });
  }

  /**
   * Creates the `local-admin` key when no admin key works, so a fresh install can be driven at once.
   * Returns the new key, or undefined when an admin key already exists.
   */
  async ensureBootstrapAdmin(actor: Actor): Promise<CreatedKey | undefined> {
    return this.db.transaction().execute(async (trx) => {
      await lockKeyBootstrap(trx);
      if ((await countActiveAdminKeys(trx)) > 0) return undefined;
      const created = await createApiKey(trx, { name: BOOTSTRAP_ADMIN_NAME, role: 'admin', createdBy: actor.name });
      await recordAudit(trx, actor, {
        action: 'key.create',
        targetType: 'api_key',
        targetId: created.id,
        after: auditView(created),
        details: { reason: 'no working admin key at start-up' },
      });
      return created;
    });
  }

  private async resolve(db: Kysely<Database>, idOrName: string): Promise<ApiKeyRow> {
    if (UUID.test(idOrName)) {
      const byId = await findApiKeyById(db, idOrName);
      if (byId) return byId;
    }
    const byName = await findActiveKeysByName(db, idOrName);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) {
      throw new AppError(
        'CONFLICT',
        `${byName.length} working keys are named "${idOrName}"; revoke one by id (${byName.map((k) => k.id).join(', ')})`,
      );
    }
    throw new AppError('NOT_FOUND', `No API key ${JSON.stringify(idOrName)}`);
  }
}
