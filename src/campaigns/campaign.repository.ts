import { sql, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { CampaignStatus, CampaignsTable, Database } from '../db/schema.js';
import { TRANSITIONS, type CampaignAction } from './campaign.state.js';

export type CampaignRow = Selectable<CampaignsTable>;
export type CampaignChanges = Omit<Updateable<CampaignsTable>, 'id' | 'status' | 'created_by' | 'created_at'>;

export interface NewCampaign {
  name: string;
  category: string | null;
  productId: string | null;
  class: 'marketing' | 'notification';
  segmentId: string;
  exclusionPolicy: string;
  channel: 'sms' | 'mms';
  message: object;
  schedule: object;
  throttle: object;
  controlPercent: number;
  gateway: string;
  createdBy: string;
}

export async function insertCampaign(db: Kysely<Database>, c: NewCampaign): Promise<CampaignRow> {
  return db
    .insertInto('campaigns')
    .values({
      name: c.name,
      category: c.category,
      product_id: c.productId,
      class: c.class,
      segment_id: c.segmentId,
      exclusion_policy: c.exclusionPolicy,
      channel: c.channel,
      message: JSON.stringify(c.message),
      schedule: JSON.stringify(c.schedule),
      throttle: JSON.stringify(c.throttle),
      control_percent: c.controlPercent,
      gateway: c.gateway,
      status: 'draft',
      created_by: c.createdBy,
      updated_by: c.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function findCampaign(db: Kysely<Database>, id: string): Promise<CampaignRow | undefined> {
  return db.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Newest first; `after` is the last row of the previous page. */
export async function listCampaigns(
  db: Kysely<Database>,
  query: { status?: CampaignStatus; after?: { createdAt: Date; id: string }; limit: number },
): Promise<CampaignRow[]> {
  let q = db.selectFrom('campaigns').selectAll();
  if (query.status) q = q.where('status', '=', query.status);
  if (query.after) q = q.where(sql<boolean>`(created_at, id) < (${query.after.createdAt}, ${query.after.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
}

/**
 * Applies `action` only if the campaign is still in one of the states it may start from, with the
 * other columns in `changes`; undefined when it was not (the caller re-reads and answers 409).
 */
export async function applyTransition(
  db: Kysely<Database>,
  id: string,
  action: CampaignAction,
  actor: string,
  changes: CampaignChanges = {},
): Promise<CampaignRow | undefined> {
  const { from, to } = TRANSITIONS[action];
  return db
    .updateTable('campaigns')
    .set({ ...changes, status: to, updated_by: actor, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .returningAll()
    .executeTakeFirst();
}

export async function deleteCampaign(db: Kysely<Database>, id: string, fromStates: readonly CampaignStatus[]): Promise<boolean> {
  const result = await db.deleteFrom('campaigns').where('id', '=', id).where('status', 'in', [...fromStates]).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function campaignsInStatus(db: Kysely<Database>, statuses: readonly CampaignStatus[]): Promise<CampaignRow[]> {
  return db.selectFrom('campaigns').selectAll().where('status', 'in', [...statuses]).execute();
}

/** Scheduled campaigns whose time has come. */
export async function dueScheduledCampaigns(db: Kysely<Database>, now: Date): Promise<CampaignRow[]> {
  return db.selectFrom('campaigns').selectAll().where('status', '=', 'scheduled').where('send_at', '<=', now).execute();
}

export async function gatewayExists(db: Kysely<Database>, name: string): Promise<boolean> {
  return (await db.selectFrom('gateways').select('name').where('name', '=', name).executeTakeFirst()) !== undefined;
}

/** The send start of the oldest campaign still sending, or null. */
export async function oldestSendingSince(db: Kysely<Database>): Promise<Date | null> {
  const row = await db.selectFrom('campaigns').select((eb) => eb.fn.min('send_at').as('since')).where('status', '=', 'sending').executeTakeFirst();
  return (row?.since as Date | null | undefined) ?? null;
}
