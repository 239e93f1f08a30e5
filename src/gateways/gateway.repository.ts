import { sql, type Kysely, type Selectable } from 'kysely';
import type { CampaignsTable, Database, GatewaysTable } from '../db/schema.js';
import type { GatewayReceipt, MoMessage } from './gateway.js';
import type { GatewayProtocol } from './gateway.schemas.js';

export type GatewayRow = Selectable<GatewaysTable>;

/** What an adapter is built from, and the row version it was read at. */
export interface GatewayConnectionRow {
  protocol: GatewayProtocol;
  settings: Record<string, unknown>;
  rate_per_second: number;
  /** `updated_at` as Postgres spells it: microseconds, which a JS Date would cut to milliseconds. */
  version: string;
}

export async function findGateway(db: Kysely<Database>, name: string): Promise<GatewayRow | undefined> {
  return db.selectFrom('gateways').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function listGateways(db: Kysely<Database>): Promise<GatewayRow[]> {
  return db.selectFrom('gateways').selectAll().orderBy('name').execute();
}

/** The row locked for a change; undefined when the gateway does not exist yet. */
export async function lockGateway(db: Kysely<Database>, name: string): Promise<GatewayRow | undefined> {
  return db.selectFrom('gateways').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
}

export async function findGatewayConnection(db: Kysely<Database>, name: string): Promise<GatewayConnectionRow | undefined> {
  return db
    .selectFrom('gateways')
    .select(['protocol', 'settings', 'rate_per_second', sql<string>`updated_at::text`.as('version')])
    .where('name', '=', name)
    .executeTakeFirst();
}

export interface GatewayWrite {
  name: string;
  protocol: GatewayProtocol;
  settings: Record<string, unknown>;
  ratePerSecond: number;
  actor: string;
}

export async function insertGateway(db: Kysely<Database>, gateway: GatewayWrite & { simulator?: boolean }): Promise<void> {
  await db
    .insertInto('gateways')
    .values({
      name: gateway.name,
      protocol: gateway.protocol,
      settings: JSON.stringify(gateway.settings),
      rate_per_second: gateway.ratePerSecond,
      simulator: gateway.simulator ?? false,
      created_by: gateway.actor,
      updated_by: gateway.actor,
    })
    .execute();
}

export async function updateGateway(db: Kysely<Database>, gateway: GatewayWrite): Promise<void> {
  await db
    .updateTable('gateways')
    .set({
      protocol: gateway.protocol,
      settings: JSON.stringify(gateway.settings),
      rate_per_second: gateway.ratePerSecond,
      updated_by: gateway.actor,
      updated_at: sql<Date>`now()`,
    })
    .where('name', '=', gateway.name)
    .execute();
}

export async function deleteGateway(db: Kysely<Database>, name: string): Promise<void> {
  await db.deleteFrom('gateways').where('name', '=', name).execute();
}

/** Campaign states in which a campaign may still submit through its gateway. */
export const RUNNING_CAMPAIGN_STATES = ['scheduled', 'sending', 'paused'] as const satisfies ReadonlyArray<CampaignsTable['status']>;

export async function runningCampaignsOnGateway(
  db: Kysely<Database>,
  gateway: string,
  limit: number,
): Promise<Array<{ id: string; name: string; status: string }>> {
  return db
    .selectFrom('campaigns')
    .select(['id', 'name', 'status'])
    .where('gateway', '=', gateway)
    .where('status', 'in', RUNNING_CAMPAIGN_STATES)
    .orderBy('created_at')
    .limit(limit)
    .execute();
}

const isoOrNull = (date: Date | null): string | null => (date === null ? null : date.toISOString());

// One statement per batch whatever its size: unnest takes one bound array per column, so the
// 65,535 bind-parameter limit of a VALUES list never comes near.
export async function insertGatewayReceipts(db: Kysely<Database>, receipts: readonly GatewayReceipt[]): Promise<void> {
  await sql`
    INSERT INTO gateway_receipts (gateway, gateway_message_id, status, error_code, done_at, received_at)
    SELECT * FROM unnest(
      ${receipts.map((r) => r.gateway)}::text[],
      ${receipts.map((r) => r.gatewayMessageId)}::text[],
      ${receipts.map((r) => r.status)}::text[],
      ${receipts.map((r) => r.errorCode)}::text[],
      ${receipts.map((r) => isoOrNull(r.doneAt))}::timestamptz[],
      ${receipts.map((r) => r.receivedAt.toISOString())}::timestamptz[])`.execute(db);
}

export async function insertMoMessages(db: Kysely<Database>, messages: readonly MoMessage[]): Promise<void> {
  await sql`
    INSERT INTO mo_messages (gateway, msisdn, to_addr, text, received_at)
    SELECT * FROM unnest(
      ${messages.map((m) => m.gateway)}::text[],
      ${messages.map((m) => m.msisdn)}::text[],
      ${messages.map((m) => m.to)}::text[],
      ${messages.map((m) => m.text)}::text[],
      ${messages.map((m) => m.receivedAt.toISOString())}::timestamptz[])`.execute(db);
}
