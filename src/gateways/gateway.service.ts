import type { Db } from '../db/kysely.js';
import { AppError } from '../http/errors.js';
import { recordAudit } from '../security/audit.js';
import type { Actor } from '../security/roles.js';
import { assertNever } from '../util/assert-never.js';
import { canonicalJson } from '../util/json.js';
import type { GatewayStatus } from './gateway.js';
import type { GatewayRegistry } from './gateway.registry.js';
import {
  deleteGateway,
  findGateway,
  insertGateway,
  listGateways,
  lockGateway,
  runningCampaignsOnGateway,
  updateGateway,
  type GatewayRow,
} from './gateway.repository.js';
import { REDACTED, SECRET_SETTINGS, type GatewayProtocol, type GatewayView, type PutGatewayBody } from './gateway.schemas.js';
import { cmppGatewayConfigSchema } from './cmpp/cmpp.gateway.js';
import { smppGatewayConfigSchema } from './smpp/smpp.gateway.js';
import { mm7GatewayConfigSchema } from './mm7/mm7.gateway.js';
import { kannelGatewayConfigSchema } from './kannel/kannel.gateway.js';

/** Running campaigns named in a 409 (all of them stop the delete). */
const CAMPAIGNS_NAMED = 10;

export interface PutGatewayOutcome {
  gateway: GatewayView;
  created: boolean;
  changed: boolean;
}

/** The settings with every secret replaced: what audit rows and logs may hold. */
export function redactSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([key, value]) => [key, SECRET_SETTINGS.has(key) ? REDACTED : value]));
}

function auditedGateway(gateway: { protocol: GatewayProtocol; settings: Record<string, unknown>; rate_per_second: number }) {
  return { protocol: gateway.protocol, ratePerSecond: gateway.rate_per_second, settings: redactSettings(gateway.settings) };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown }).code === '23505';
}

/**
 * Gateways as data (admin only): connection settings per protocol, validated by the adapter's own
 * schema, with the secret stored but never shown, logged or audited. Each change is audited in the
 * transaction that makes it; this process's registry reconnects at once, others within their
 * recheck interval.
 */
export class GatewayService {
  private readonly db: Db;
  private readonly registry: Pick<GatewayRegistry, 'status' | 'invalidate'>;

  constructor(options: { db: Db; registry: Pick<GatewayRegistry, 'status' | 'invalidate'> }) {
    this.db = options.db;
    this.registry = options.registry;
  }

  async list(): Promise<GatewayView[]> {
    const rows = await listGateways(this.db);
    return Promise.all(rows.map(async (row) => this.view(row, await this.statusOf(row.name))));
  }

  async get(name: string): Promise<GatewayView> {
    const row = await findGateway(this.db, name);
    if (!row) throw new AppError('NOT_FOUND', `No gateway "${name}"`);
    return this.view(row, await this.statusOf(name));
  }

  /** Creates or replaces the gateway's settings; without `password`, an existing gateway keeps its own. */
  async put(name: string, body: PutGatewayBody, actor: Actor): Promise<PutGatewayOutcome> {
    let outcome: { row: GatewayRow; created: boolean; changed: boolean };
    try {
      outcome = await this.db.transaction().execute(async (trx) => {
        const before = await lockGateway(trx, name);
        const { protocol, settings, ratePerSecond } = settingsFromBody(name, body, before);
        if (before && canonicalJson(auditedFields(before)) === canonicalJson({ protocol, settings, ratePerSecond })) {
          return { row: before, created: false, changed: false };
        }
        const write = { name, protocol, settings, ratePerSecond, actor: actor.name };
        if (before) await updateGateway(trx, write);
        else await insertGateway(trx, write);
        const after = (await findGateway(trx, name))!;
        await recordAudit(trx, actor, {
          action: before ? 'gateway.update' : 'gateway.create',
          targetType: 'gateway',
          targetId: name,
          before: before ? auditedGateway(before) : null,
          after: auditedGateway(after),
          details: { passwordChanged: !before || [...SECRET_SETTINGS].some((key) => before.settings[key] !== after.settings[key]) },
        });
        return { row: after, created: !before, changed: true };
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('CONFLICT', `Gateway "${name}" was created by another request at the same moment; send the change again`);
      }
      throw error;
    }
    if (outcome.changed) this.registry.invalidate(name);
    return { gateway: this.view(outcome.row, await this.statusOf(name)), created: outcome.created, changed: outcome.changed };
  }

  /** Deletes the gateway unless a scheduled, sending or paused campaign still uses it (409 IN_USE). */
  async delete(name: string, actor: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const before = await lockGateway(trx, name);
      if (!before) throw new AppError('NOT_FOUND', `No gateway "${name}"`);
      const campaigns = await runningCampaignsOnGateway(trx, name, CAMPAIGNS_NAMED);
      if (campaigns.length > 0) {
        const named = campaigns.map((c) => `"${c.name}" (${c.status})`).join(', ');
        throw new AppError('IN_USE', `Gateway "${name}" is used by running campaigns: ${named}; cancel or complete them first`, undefined, {
          campaigns: campaigns.map((c) => ({ id: c.id, name: c.name, status: c.status })),
        });
      }
      await deleteGateway(trx, name);
      await recordAudit(trx, actor, { action: 'gateway.delete', targetType: 'gateway', targetId: name, before: auditedGateway(before) });
    });
    this.registry.invalidate(name);
  }

  private async statusOf(name: string): Promise<GatewayStatus> {
    try {
      return await this.registry.status(name);
    } catch (error) {
      // Deleted between the read and the status: the row read is still the answer.
      if (error instanceof AppError && error.code === 'NOT_FOUND') return { status: 'down', lastError: 'deleted', consecutiveFailures: 0 };
      throw error;
    }
  }

  private view(row: GatewayRow, status: GatewayStatus): GatewayView {
    const common = {
      name: row.name,
      ratePerSecond: row.rate_per_second,
      simulator: row.simulator,
      status: status.status,
      ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
      createdBy: row.created_by,
      createdAt: row.created_at.toISOString(),
      updatedBy: row.updated_by,
      updatedAt: row.updated_at.toISOString(),
    };
    switch (row.protocol) {
      case 'smpp': {
        const parsed = smppGatewayConfigSchema.safeParse(row.settings);
        if (!parsed.success) {
          // Only a hand-edited row gets here: the PUT and the simulator write what the schema takes.
          const paths = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
          throw new AppError('INTERNAL', `Gateway "${row.name}" has stored smpp settings the adapter refuses (${paths})`);
        }
        const { password, ...settings } = parsed.data;
        return { protocol: 'smpp', ...common, ...settings, passwordSet: password !== '' };
      }
      case 'kannel': {
        const parsed = kannelGatewayConfigSchema.safeParse(row.settings);
        if (!parsed.success) {
          const paths = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
          throw new AppError('INTERNAL', `Gateway "${row.name}" has stored kannel settings the adapter refuses (${paths})`);
        }
        const { password, ...settings } = parsed.data;
        return { protocol: 'kannel', ...common, ...settings, passwordSet: password !== '' };
      }
      case 'cmpp2':
      case 'cmpp3': {
        const parsed = cmppGatewayConfigSchema.safeParse({ ...row.settings, version: cmppVersion(row.protocol) });
        if (!parsed.success) {
          const paths = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
          throw new AppError('INTERNAL', `Gateway "${row.name}" has stored ${row.protocol} settings the adapter refuses (${paths})`);
        }
        const { sharedSecret, version: _version, ...settings } = parsed.data;
        return { protocol: row.protocol, ...common, ...settings, passwordSet: sharedSecret !== '' };
      }
      case 'mm7': {
        const parsed = mm7GatewayConfigSchema.safeParse(row.settings);
        if (!parsed.success) {
          const paths = parsed.error.issues.map((issue) => issue.path.join('.')).join(', ');
          throw new AppError('INTERNAL', `Gateway "${row.name}" has stored mm7 settings the adapter refuses (${paths})`);
        }
        const { password, callbackToken, ...settings } = parsed.data;
        return { protocol: 'mm7', ...common, ...settings, passwordSet: password !== '', callbackTokenSet: callbackToken !== '' };
      }
      default:
        return assertNever(row.protocol);
    }
  }
}

/** cmpp2 speaks CMPP 2.0, cmpp3 CMPP 3.0. */
export function cmppVersion(protocol: 'cmpp2' | 'cmpp3'): 2 | 3 {
  return protocol === 'cmpp3' ? 3 : 2;
}

function auditedFields(row: GatewayRow): { protocol: GatewayProtocol; settings: Record<string, unknown>; ratePerSecond: number } {
  return { protocol: row.protocol, settings: row.settings, ratePerSecond: row.rate_per_second };
}

/** The row's protocol, settings (secret included) and rate for a PUT body. */
function settingsFromBody(
  name: string,
  body: PutGatewayBody,
  before: GatewayRow | undefined,
): { protocol: GatewayProtocol; settings: Record<string, unknown>; ratePerSecond: number } {
  switch (body.protocol) {
    case 'smpp': {
      const { protocol, ratePerSecond, password, ...settings } = body;
      const kept = before?.protocol === 'smpp' ? before.settings.password : undefined;
      const secret = password ?? kept;
      if (typeof secret !== 'string') {
        const why = before ? `gateway "${name}" was ${before.protocol} and has no smpp password to keep` : 'required for a new gateway';
        throw new AppError('VALIDATION', `Invalid body: password: ${why}`, [{ path: 'password', message: why }]);
      }
      return { protocol, ratePerSecond, settings: { ...settings, password: secret } };
    }
    case 'kannel': {
      const { protocol, ratePerSecond, password, ...settings } = body;
      const kept = before?.protocol === 'kannel' ? before.settings.password : undefined;
      const secret = password ?? kept;
      if (typeof secret !== 'string') {
        const why = before ? `gateway "${name}" was ${before.protocol} and has no kannel password to keep` : 'required for a new gateway';
        throw new AppError('VALIDATION', `Invalid body: password: ${why}`, [{ path: 'password', message: why }]);
      }
      return { protocol, ratePerSecond, settings: { ...settings, password: secret } };
    }
    case 'cmpp2':
    case 'cmpp3': {
      const { protocol, ratePerSecond, sharedSecret, ...settings } = body;
      const kept = before?.protocol === 'cmpp2' || before?.protocol === 'cmpp3' ? before.settings.sharedSecret : undefined;
      const secret = sharedSecret ?? kept;
      if (typeof secret !== 'string') {
        const why = before ? `gateway "${name}" was ${before.protocol} and has no CMPP shared secret to keep` : 'required for a new gateway';
        throw new AppError('VALIDATION', `Invalid body: sharedSecret: ${why}`, [{ path: 'sharedSecret', message: why }]);
      }
      return { protocol, ratePerSecond, settings: { ...settings, sharedSecret: secret } };
    }
    case 'mm7': {
      const { protocol, ratePerSecond, password, callbackToken, ...settings } = body;
      const kept: Record<string, unknown> = before?.protocol === 'mm7' ? before.settings : {};
      const secrets = { password: password ?? kept.password, callbackToken: callbackToken ?? kept.callbackToken };
      for (const [key, secret] of Object.entries(secrets)) {
        if (typeof secret === 'string') continue;
        const why = before ? `gateway "${name}" was ${before.protocol} and has no mm7 ${key} to keep` : 'required for a new gateway';
        throw new AppError('VALIDATION', `Invalid body: ${key}: ${why}`, [{ path: key, message: why }]);
      }
      return { protocol, ratePerSecond, settings: { ...settings, ...secrets } };
    }
    default:
      return assertNever(body);
  }
}
