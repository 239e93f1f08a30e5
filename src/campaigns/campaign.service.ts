import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import type { CampaignStatus } from '../db/schema.js';
import type { TargetingRunView, Explanation } from '../exclusions/targeting.service.js';
import type { FunnelEntry } from '../exclusions/funnel.js';
import type { Gateway, SubmitOutcome } from '../gateways/gateway.js';
import { findGatewayConnection } from '../gateways/gateway.repository.js';
import { encodeSms } from '../gateways/sms-encoding.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { recordAudit } from '../security/audit.js';
import { msisdnFor } from '../security/mask.js';
import type { Actor } from '../security/roles.js';
import { normalisePhoneNumber } from '../uploads/phone-numbers.js';
import { checkCampaignWindow, parseSendWindow } from '../sending/send-window.js';
import type { LedgerFreezer } from '../sending/ledger.freeze.js';
import { cancelQueued, scanLedger, type LedgerScan } from '../sending/ledger.repository.js';
import type { SendDispatch } from '../sending/send.dispatch.js';
import type { CampaignProfiles } from './campaign.profiles.js';
import {
  applyTransition,
  deleteCampaign,
  findCampaign,
  gatewayExists,
  insertCampaign,
  listCampaigns,
  type CampaignChanges,
  type CampaignRow,
} from './campaign.repository.js';
import type { CampaignView, CreateCampaignInput, Progress, UpdateCampaignInput } from './campaign.schemas.js';
import { DELETABLE_STATES, LAUNCHED_STATES, illegalTransition, type CampaignAction } from './campaign.state.js';
import { checkSmsMessage, composeSms, type SmsMessage } from './message.js';
import { checkMmsMessage, composeMms, decodeMmsImages, isMmsMessage, messagePlaceholders, type MmsMessage } from './mms.message.js';

export interface CampaignServiceDeps {
  db: Db;
  catalog: Catalog;
  config: Pick<Config, 'SEND_WINDOW' | 'SEND_TIMEZONE' | 'CAMPAIGN_APPROVAL' | 'SEND_BATCH_SIZE' | 'MSISDN_PATTERN' | 'MMS_MAX_BYTES'>;
  segments: { get(id: string, actor: Actor): Promise<{ status: 'building' | 'ready' | 'failed' }> };
  policies: { get(name: string): Promise<unknown> };
  targeting: {
    run(
      request: { segmentId: string; policy: string; productId: string | null; category: string | null; controlGroupPercent: number; campaignId: string },
      actor: Actor,
    ): Promise<TargetingRunView>;
    get(id: string): Promise<TargetingRunView>;
    explain(id: string, msisdn: string, actor: Actor): Promise<Explanation>;
  };
  freezer: Pick<LedgerFreezer, 'freeze'>;
  dispatch: Pick<SendDispatch, 'enqueueOwed' | 'scheduleStart'>;
  profiles: Pick<CampaignProfiles, 'sample'>;
  gateways: { get(name: string): Promise<Gateway> };
  now?: () => Date;
}

export interface TestSendResult {
  msisdn: string;
  outcome: SubmitOutcome['kind'];
  code?: string;
  gatewayMessageIds?: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * 营销案: a campaign from draft to launch. Operators create, edit, target and approve (four-eyes);
 * schedulers launch, pause, resume and cancel. Every change is one guarded transition
 * (campaign.state.ts) and one audit row; the launch freezes the target into the message ledger
 * in the same transaction as the status change.
 */
export class CampaignService {
  constructor(private readonly deps: CampaignServiceDeps) {}

  async create(input: CreateCampaignInput, actor: Actor): Promise<CampaignView> {
    await this.check(input);
    const row = await this.deps.db.transaction().execute(async (trx) => {
      const created = await insertCampaign(trx, {
        name: input.name,
        category: input.category ?? null,
        productId: input.productId ?? null,
        class: input.class,
        segmentId: input.segmentId,
        exclusionPolicy: input.exclusionPolicy,
        channel: input.channel,
        message: input.message,
        schedule: input.schedule,
        throttle: input.throttle,
        controlPercent: input.controlGroupPercent,
        gateway: input.gateway,
        createdBy: actor.name,
      });
      await recordAudit(trx, actor, { action: 'campaign.create', targetType: 'campaign', targetId: created.id, after: input });
      return created;
    });
    return this.view(row);
  }

  async list(query: { status?: CampaignStatus; after?: { createdAt: Date; id: string }; limit: number }): Promise<CampaignView[]> {
    const rows = await listCampaigns(this.deps.db, query);
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async get(id: string): Promise<CampaignView> {
    return this.view(await this.require(id));
  }

  /** Edits a draft or targeted campaign; the targeting is dropped (the campaign is a draft again). */
  async update(id: string, changes: UpdateCampaignInput, actor: Actor): Promise<CampaignView> {
    const before = await this.require(id);
    const merged = { ...inputOf(before), ...changes };
    await this.check(merged);
    const row = await this.transition(id, 'edit', actor, {
      before: inputOf(before),
      after: changes,
      changes: {
        name: merged.name,
        category: merged.category ?? null,
        product_id: merged.productId ?? null,
        class: merged.class,
        segment_id: merged.segmentId,
        exclusion_policy: merged.exclusionPolicy,
        channel: merged.channel,
        message: JSON.stringify(merged.message),
        schedule: JSON.stringify(merged.schedule),
        throttle: JSON.stringify(merged.throttle),
        control_percent: merged.controlGroupPercent,
        gateway: merged.gateway,
        targeting_run_id: null,
      },
    });
    return this.view(row);
  }

  async remove(id: string, actor: Actor): Promise<void> {
    const row = await this.require(id);
    await this.deps.db.transaction().execute(async (trx) => {
      if (!(await deleteCampaign(trx, id, DELETABLE_STATES))) throw illegalTransition('delete', (await this.require(id)).status);
      await recordAudit(trx, actor, { action: 'campaign.delete', targetType: 'campaign', targetId: id, before: inputOf(row) });
    });
  }

  /** Runs the campaign's segment through its exclusion policy and keeps the run as its target. */
  async target(id: string, actor: Actor): Promise<TargetingRunView> {
    const row = await this.require(id);
    if (!(['draft', 'targeted'] as CampaignStatus[]).includes(row.status)) throw illegalTransition('target', row.status);
    const run = await this.deps.targeting.run(
      {
        segmentId: row.segment_id,
        policy: row.exclusion_policy,
        productId: row.product_id,
        category: row.category,
        controlGroupPercent: Number(row.control_percent),
        campaignId: id,
      },
      actor,
    );
    await this.transition(id, 'target', actor, { changes: { targeting_run_id: run.id }, after: { targetingRunId: run.id, target: run.target, control: run.control } });
    return run;
  }

  async funnel(id: string): Promise<{ runId: string; funnel: FunnelEntry[]; target: number; control: number }> {
    const run = await this.deps.targeting.get(await this.requireRunId(id));
    return { runId: run.id, funnel: run.funnel, target: run.target, control: run.control };
  }

  async explain(id: string, msisdn: string, actor: Actor): Promise<Explanation> {
    return this.deps.targeting.explain(await this.requireRunId(id), msisdn, actor);
  }

  /** Four-eyes: someone other than the creator approves (unless CAMPAIGN_APPROVAL=off). */
  async approve(id: string, note: string | undefined, actor: Actor): Promise<CampaignView> {
    const row = await this.require(id);
    if (this.deps.config.CAMPAIGN_APPROVAL === 'on' && row.created_by === actor.name) {
      throw new AppError('FORBIDDEN', `${actor.name} created this campaign; another operator must approve it (four-eyes)`);
    }
    const approved = await this.transition(id, 'approve', actor, {
      changes: { approved_by: actor.name, approved_at: this.now(), approval_note: note ?? null },
      after: { note: note ?? null },
    });
    return this.view(approved);
  }

  /**
   * Freezes the target and control group into the ledger and starts sending, or schedules the
   * start for a future `at`. Either the whole ledger and the new status commit, or nothing does.
   */
  async launch(id: string, at: string | undefined, actor: Actor): Promise<CampaignView> {
    const row = await this.require(id);
    if (row.status === 'targeted' && this.deps.config.CAMPAIGN_APPROVAL === 'on') {
      throw new AppError('CONFLICT', `Campaign ${id} is targeted but not approved; an operator other than ${row.created_by} approves it first`, undefined, {
        currentStatus: row.status,
      });
    }
    const launchable: CampaignStatus[] = this.deps.config.CAMPAIGN_APPROVAL === 'on' ? ['approved'] : ['approved', 'targeted'];
    if (!launchable.includes(row.status)) throw illegalTransition('launch', row.status);
    if (!row.targeting_run_id) throw new AppError('CONFLICT', `Campaign ${id} has no targeting; target it first`);
    if (!(await gatewayExists(this.deps.db, row.gateway))) {
      throw new AppError('VALIDATION', `Gateway ${row.gateway} no longer exists`, [{ path: 'gateway', message: 'no such gateway' }]);
    }
    const now = this.now();
    const sendAt = at ? new Date(at) : now;
    const scheduled = sendAt.getTime() > now.getTime();
    const action: CampaignAction = scheduled ? 'schedule' : 'launch';
    const message = row.message as unknown as SmsMessage | MmsMessage;
    try {
      await this.deps.freezer.freeze(
        { campaignId: id, runId: row.targeting_run_id, columns: messagePlaceholders(message) },
        async (trx, frozen) => {
          // A gateway DELETE locks its row and refuses while a running campaign uses it; holding the
          // row shared until this launch commits closes the gap between the two.
          const gateway = await trx.selectFrom('gateways').select('name').where('name', '=', row.gateway).forShare().executeTakeFirst();
          if (!gateway) throw new AppError('VALIDATION', `Gateway ${row.gateway} no longer exists`, [{ path: 'gateway', message: 'no such gateway' }]);
          const changes: CampaignChanges = {
            launched_by: actor.name,
            launched_at: now,
            send_at: sendAt,
            batch_size: this.deps.config.SEND_BATCH_SIZE,
            target_count: frozen.target,
            control_count: frozen.control,
          };
          // Approval off: a targeted campaign launches directly, recorded as approved by the launcher.
          if (row.status === 'targeted') {
            const approved = await applyTransition(trx, id, 'approve', actor.name, { approved_by: actor.name, approved_at: now, approval_note: 'approval off' });
            if (!approved) throw illegalTransition(action, (await findCampaign(trx, id))?.status ?? row.status);
          }
          const launched = await applyTransition(trx, id, action, actor.name, changes);
          if (!launched) throw illegalTransition(action, (await findCampaign(trx, id))?.status ?? row.status);
          await recordAudit(trx, actor, {
            action: `campaign.${action}`,
            targetType: 'campaign',
            targetId: id,
            after: { status: launched.status, sendAt: sendAt.toISOString(), target: frozen.target, control: frozen.control },
            details: { targetingRunId: row.targeting_run_id },
          });
        },
      );
    } catch (error) {
      // Two launches racing: the loser finds the ledger partition already there.
      if ((error as { code?: string }).code === '42P07') throw illegalTransition(action, (await this.require(id)).status);
      throw error;
    }
    const launched = await this.require(id);
    if (scheduled) await this.deps.dispatch.scheduleStart(id, sendAt);
    else await this.deps.dispatch.enqueueOwed(launched);
    return this.view(launched);
  }

  async pause(id: string, actor: Actor, reason?: string): Promise<CampaignView> {
    return this.view(await this.transition(id, 'pause', actor, { changes: { status_reason: reason ?? null }, after: { reason: reason ?? null } }));
  }

  /** Resumes sending; a campaign paused before its start time goes back to waiting for it. */
  async resume(id: string, actor: Actor): Promise<CampaignView> {
    const current = await this.require(id);
    const early = current.send_at !== null && current.send_at.getTime() > this.now().getTime();
    const row = await this.transition(id, early ? 'reschedule' : 'resume', actor, { changes: { status_reason: null } });
    if (early) await this.deps.dispatch.scheduleStart(id, row.send_at!);
    else await this.deps.dispatch.enqueueOwed(row);
    return this.view(row);
  }

  /** Cancels; whatever is still queued in the ledger becomes `cancelled` in the same transaction. */
  async cancel(id: string, actor: Actor): Promise<CampaignView> {
    const row = await this.require(id);
    const cancelled = await this.deps.db.transaction().execute(async (trx) => {
      const updated = await applyTransition(trx, id, 'cancel', actor.name);
      if (!updated) throw illegalTransition('cancel', (await findCampaign(trx, id))?.status ?? row.status);
      const dropped = LAUNCHED_STATES.includes(row.status) ? await cancelQueued(trx, id) : 0;
      await recordAudit(trx, actor, { action: 'campaign.cancel', targetType: 'campaign', targetId: id, before: { status: row.status }, after: { cancelledMessages: dropped } });
      return updated;
    });
    return this.view(cancelled);
  }

  /** The message as sample customers would read it. */
  async render(id: string, customerIds: number[] | undefined): Promise<Array<{ customerId: number } & ReturnType<typeof composeSms>>> {
    const row = await this.require(id);
    const message = row.message as unknown as SmsMessage | MmsMessage;
    const samples = await this.deps.profiles.sample(row.segment_id, messagePlaceholders(message), customerIds);
    if (customerIds && samples.length === 0) throw new AppError('NOT_FOUND', 'None of customerIds is a customer', [{ path: 'customerIds', message: 'unknown customers' }]);
    if (!isMmsMessage(message)) return samples.map((s) => ({ customerId: s.customerId, ...composeSms(message, s.vars) }));
    // An MMS previews its text parts joined; it is one message (parts 1), and `encoding` is only how that text would go as SMS.
    const images = decodeMmsImages(message);
    return samples.map((s) => {
      const { text } = composeMms(message, s.vars, images);
      return { customerId: s.customerId, text, encoding: encodeSms(text).encoding, parts: 1, chars: [...text].length };
    });
  }

  /** Sends the message (rendered for the segment's first member) to internal numbers: not in the ledger, not in contact history. */
  async testSend(id: string, msisdns: string[], actor: Actor): Promise<TestSendResult[]> {
    const row = await this.require(id);
    const pattern = new RegExp(this.deps.config.MSISDN_PATTERN);
    const problems: FieldProblem[] = [];
    const numbers = msisdns.map((raw, i) => {
      const n = normalisePhoneNumber(raw, pattern);
      if (!n) problems.push({ path: `msisdns[${i}]`, message: 'not a phone number' });
      return n ?? '';
    });
    if (problems.length > 0) throw new AppError('VALIDATION', 'Some test numbers are not phone numbers', problems);
    const message = row.message as unknown as SmsMessage | MmsMessage;
    const [sample] = await this.deps.profiles.sample(row.segment_id, messagePlaceholders(message), undefined, 1).catch(() => []);
    const vars = sample?.vars ?? {};
    const content = isMmsMessage(message) ? composeMms(message, vars, decodeMmsImages(message)) : { text: composeSms(message, vars).text };
    const gateway = await this.deps.gateways.get(row.gateway);
    const outcomes = await gateway.submit(numbers.map((msisdn, i) => ({ ref: String(i), msisdn, ...content })));
    await recordAudit(this.deps.db, actor, {
      action: 'campaign.test',
      targetType: 'campaign',
      targetId: id,
      details: { recipients: numbers.map((n) => msisdnFor('analyst', n)), outcomes: outcomes.map((o) => o.kind) },
    });
    return outcomes
      .sort((a, b) => Number(a.ref) - Number(b.ref))
      .map((o) => ({
        msisdn: msisdnFor(actor.role, numbers[Number(o.ref)]!),
        outcome: o.kind,
        ...(o.kind === 'accepted' ? { gatewayMessageIds: o.gatewayMessageIds } : { code: o.code }),
      }));
  }

  async require(id: string): Promise<CampaignRow> {
    const row = UUID.test(id) ? await findCampaign(this.deps.db, id) : undefined;
    if (!row) throw new AppError('NOT_FOUND', `No campaign ${id}`);
    return row;
  }

  private async requireRunId(id: string): Promise<string> {
    const row = await this.require(id);
    if (!row.targeting_run_id) throw new AppError('NOT_FOUND', `Campaign ${id} has not been targeted`);
    return row.targeting_run_id;
  }

  private async transition(
    id: string,
    action: CampaignAction,
    actor: Actor,
    options: { changes?: CampaignChanges; before?: unknown; after?: unknown } = {},
  ): Promise<CampaignRow> {
    return this.deps.db.transaction().execute(async (trx) => {
      const current = await findCampaign(trx, id);
      if (!current) throw new AppError('NOT_FOUND', `No campaign ${id}`);
      const updated = await applyTransition(trx, id, action, actor.name, options.changes);
      if (!updated) throw illegalTransition(action, current.status);
      await recordAudit(trx, actor, {
        action: `campaign.${action}`,
        targetType: 'campaign',
        targetId: id,
        before: options.before ?? { status: current.status },
        after: options.after ?? { status: updated.status },
      });
      return updated;
    });
  }

  /** Everything wrong with a campaign definition, together, each with its JSON path. */
  private async check(input: CreateCampaignInput): Promise<void> {
    const problems: FieldProblem[] = [];
    if (input.channel === 'mms' && !isMmsMessage(input.message)) problems.push({ path: 'message', message: 'an MMS campaign carries {subject, parts}' });
    else if (input.channel === 'sms' && isMmsMessage(input.message)) problems.push({ path: 'message', message: '{subject, parts} is an MMS: set channel to mms' });
    else if (isMmsMessage(input.message)) problems.push(...checkMmsMessage(input.message, this.deps.catalog, this.deps.config.MMS_MAX_BYTES));
    else problems.push(...checkSmsMessage(input.message, this.deps.catalog));
    if (input.schedule.window) problems.push(...checkCampaignWindow(parseSendWindow(this.deps.config.SEND_WINDOW), input.schedule.window));
    const gateway = await findGatewayConnection(this.deps.db, input.gateway);
    if (!gateway) problems.push({ path: 'gateway', message: `no gateway named ${input.gateway}` });
    else if (input.channel === 'mms' && gateway.protocol !== 'mm7') problems.push({ path: 'gateway', message: `${input.gateway} is an ${gateway.protocol} gateway; MMS needs an mm7 one` });
    else if (input.channel === 'sms' && gateway.protocol === 'mm7') problems.push({ path: 'gateway', message: `${input.gateway} is an mm7 (MMS) gateway; SMS needs an smpp, cmpp2, cmpp3 or kannel one` });
    try {
      await this.deps.policies.get(input.exclusionPolicy);
    } catch {
      problems.push({ path: 'exclusionPolicy', message: `no exclusion policy named ${input.exclusionPolicy}` });
    }
    try {
      const segment = await this.deps.segments.get(input.segmentId, { name: 'system', role: 'admin' });
      if (segment.status !== 'ready') problems.push({ path: 'segmentId', message: `segment is ${segment.status}, not ready` });
    } catch {
      problems.push({ path: 'segmentId', message: 'no such segment' });
    }
    if (problems.length > 0) throw new AppError('VALIDATION', 'The campaign is not valid', problems);
  }

  private async view(row: CampaignRow): Promise<CampaignView> {
    const scan = LAUNCHED_STATES.includes(row.status) && row.launched_at ? await scanLedger(this.deps.db, row.id) : undefined;
    return toView(row, scan ? progressOf(scan) : null);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

/** DESIGN.md's progress: every target recipient is in exactly one of queued … expired. */
export function progressOf(scan: LedgerScan, rateWindowSeconds = 10): Progress {
  const c = scan.counts;
  const total = c.queued + c.sending + c.submitted + c.delivered + c.failed + c.suppressed + c.capped + c.unknown + c.cancelled + c.expired;
  const ratePerSecond = Math.round((scan.recentlySubmitted / rateWindowSeconds) * 10) / 10;
  const owed = c.queued + c.sending;
  return {
    total,
    control: c.control,
    queued: c.queued,
    sending: c.sending,
    submitted: c.submitted,
    delivered: c.delivered,
    failed: c.failed,
    suppressed: c.suppressed,
    capped: c.capped,
    unknown: c.unknown,
    cancelled: c.cancelled,
    expired: c.expired,
    ratePerSecond,
    etaSeconds: owed === 0 ? 0 : ratePerSecond > 0 ? Math.ceil(owed / ratePerSecond) : null,
  };
}

function inputOf(row: CampaignRow): CreateCampaignInput {
  return {
    name: row.name,
    category: row.category,
    productId: row.product_id,
    class: row.class,
    segmentId: row.segment_id,
    exclusionPolicy: row.exclusion_policy,
    channel: row.channel,
    message: row.message as unknown as CreateCampaignInput['message'],
    schedule: row.schedule as CreateCampaignInput['schedule'],
    throttle: row.throttle as CreateCampaignInput['throttle'],
    controlGroupPercent: Number(row.control_percent),
    gateway: row.gateway,
  };
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

function toView(row: CampaignRow, progress: Progress | null): CampaignView {
  return {
    id: row.id,
    ...inputOf(row),
    category: row.category,
    productId: row.product_id,
    status: row.status,
    statusReason: row.status_reason,
    targetingRunId: row.targeting_run_id,
    approvedBy: row.approved_by,
    approvedAt: iso(row.approved_at),
    approvalNote: row.approval_note,
    launchedBy: row.launched_by,
    launchedAt: iso(row.launched_at),
    sendAt: iso(row.send_at),
    completedAt: iso(row.completed_at),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    progress,
  };
}
