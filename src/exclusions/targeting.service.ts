import { randomUUID } from 'node:crypto';
import { SqlParams } from '../conditions/params.js';
import type { Db } from '../db/kysely.js';
import { AppError, isAppError } from '../http/errors.js';
import { findEntry } from '../lists/list.repository.js';
import { recordAudit } from '../security/audit.js';
import { msisdnFor, textFor } from '../security/mask.js';
import type { Actor, Role } from '../security/roles.js';
import { normalisePhoneNumber } from '../uploads/phone-numbers.js';
import { segmentMembersTable } from '../warehouse/tables.js';
import type { Condition } from '../conditions/condition.schemas.js';
import type { PreparedCondition } from '../conditions/condition.service.js';
import type { BitmapIndex, SnapshotSession } from '../segments/bitmaps/bitmap.index.js';
import type { RoaringBitmap32 } from '../segments/bitmaps/roaring.js';
import { buildFunnel, compileFirstRemovingStep, contactSince, controlGroupSize, type FunnelEntry, type StepContext } from './funnel.js';
import { bitmapFunnel, hasProductCondition } from './funnel.bitmaps.js';
import type { WarehouseMirror } from './mirror.js';
import { stepSchema, type PolicyStep } from './policy.schemas.js';
import { type ConditionPreparer, type PolicyService } from './policy.service.js';
import { assertNever } from '../util/assert-never.js';
import type { ContactEvidence, MaterialiseRequest, SubscriptionEvidence, TargetingEngine } from './targeting.engine.js';
import { findPreviewRunIdsBefore, findTargetingRun, insertTargetingRun, type TargetingRunRow } from './targeting.repository.js';

/** Segments as targeting needs them (src/segments/segment.service.ts satisfies it). */
export interface SegmentLookup {
  /** Throws NOT_FOUND for an unknown segment. */
  get(id: string, actor: Actor): Promise<{ status: 'building' | 'ready' | 'failed'; snapshotVersions: Record<string, number> }>;
}

export interface TargetingRequest {
  segmentId: string;
  /** Exclusion policy name; default `default`. */
  policy?: string;
  productId?: string | null;
  category?: string | null;
  /** 0–50; default 5. */
  controlGroupPercent?: number;
  /** Any string; default random. The same seed over the same kept customers draws the same control group. */
  seed?: string;
  /** Set when a campaign is being targeted. */
  campaignId?: string | null;
}

export interface TargetingRunView {
  id: string;
  segmentId: string;
  campaignId: string | null;
  policy: { name: string; version: number };
  productId: string | null;
  category: string | null;
  controlGroupPercent: number;
  seed: string;
  asOf: string;
  funnel: FunnelEntry[];
  control: number;
  target: number;
  createdBy: string;
  createdAt: string;
  elapsedMs: number;
}

export type ListEvidence = {
  kind: 'list';
  list: string;
  reason: string | null;
  source: string;
  addedBy: string;
  addedAt: string;
  expiresAt: string | null;
  removedAt: string | null;
  removedBy: string | null;
};
export type Evidence =
  | ListEvidence
  | ({ kind: 'contact'; days: number } & ContactEvidence)
  | ({ kind: 'subscription' } & SubscriptionEvidence)
  | { kind: 'condition'; condition: unknown };

export interface Explanation {
  runId: string;
  msisdn: string;
  customerId: number | null;
  outcome: 'target' | 'control' | 'excluded' | 'not_in_segment' | 'not_a_customer';
  step: { index: number; name: string; type: PolicyStep['type'] } | null;
  evidence: Evidence | null;
  explanation: string;
}

/**
 * The bitmap index and the engine that evaluates conditions on it (the container's `bitmaps`):
 * given, runs take their funnel from bitmaps (SEGMENT_ENGINE=bitmap).
 */
export interface TargetingBitmaps {
  index: BitmapIndex;
  engine: { members(session: SnapshotSession, condition: PreparedCondition): Promise<RoaringBitmap32> };
}

export const DEFAULT_CONTROL_PERCENT = 5;
export const DEFAULT_POLICY = 'default';

/**
 * Targeting: a segment through an exclusion policy, then the control group. `run` serves the
 * preview endpoint now and `POST /v1/campaigns/:id/target` later (with `campaignId`). The run's
 * per-customer answer stays in DuckDB (`targetingTable(id)`), its funnel in Postgres.
 */
export class TargetingService {
  private readonly pattern: RegExp;

  constructor(
    private readonly deps: {
      db: Db;
      engine: TargetingEngine;
      policies: PolicyService;
      conditions: ConditionPreparer;
      segments: SegmentLookup;
      mirror: WarehouseMirror;
      msisdnPattern: string;
      /** Given, the funnel is computed on the bitmap index (falling back to SQL when it cannot answer). */
      bitmaps?: TargetingBitmaps;
      now?: () => Date;
    },
  ) {
    this.pattern = new RegExp(deps.msisdnPattern);
  }

  async run(request: TargetingRequest, actor: Actor): Promise<TargetingRunView> {
    const started = performance.now();
    const segment = await this.requireReadySegment(request.segmentId, actor);
    if (request.productId && (await this.deps.engine.productKnown(request.productId)) === false) {
      throw new AppError('VALIDATION', `Unknown product ${request.productId}`, [{ path: 'productId', message: 'not in the products dataset' }]);
    }
    const policy = await this.deps.policies.get(request.policy ?? DEFAULT_POLICY);
    const conditions = await this.deps.policies.prepareConditions(policy, actor.role);
    await this.deps.mirror.sync();

    const asOf = this.now();
    const productId = request.productId ?? null;
    const category = request.category ?? null;
    // Stored as numeric(5,2): draw with exactly the percent that is recorded.
    const percent = Math.round((request.controlGroupPercent ?? DEFAULT_CONTROL_PERCENT) * 100) / 100;
    const seed = request.seed ?? randomUUID();
    const params = new SqlParams();
    const stepContext: StepContext = {
      asOf,
      today: localDate(asOf),
      productId,
      category,
      conditions,
      ruleVersions: new Map(policy.rules.map((r) => [r.name, r.version])),
    };
    const compiled = compileFirstRemovingStep(policy.steps, stepContext, params);
    const id = randomUUID();
    const customersVersion = await this.deps.engine.datasetVersion('customers');
    const result = await this.deps.engine.materialise({
      runId: id,
      membersTable: segmentMembersTable(request.segmentId),
      firstRemovingStepSql: compiled.sql,
      onlyCurrentCustomers: (segment.snapshotVersions.customers ?? 0) !== customersVersion,
      params: params.values,
      funnel: await this.bitmapFunnel(request.segmentId, policy.steps, stepContext),
      seed,
      controlSize: (kept) => controlGroupSize(kept, percent),
    });
    const funnel = buildFunnel(result.segmentCount, result.removedByStep, compiled.steps);
    try {
      const row = await this.deps.db.transaction().execute(async (trx) => {
        const inserted = await insertTargetingRun(trx, {
          id,
          segmentId: request.segmentId,
          campaignId: request.campaignId ?? null,
          policyName: policy.name,
          policyVersion: policy.version,
          steps: policy.steps,
          productId,
          category,
          controlPercent: percent,
          seed,
          asOf,
          funnel,
          segmentCount: result.segmentCount,
          controlCount: result.control,
          targetCount: result.kept - result.control,
          createdBy: actor.name,
          elapsedMs: Math.round(performance.now() - started),
        });
        await recordAudit(trx, actor, {
          action: 'targeting.run',
          targetType: 'targeting_run',
          targetId: id,
          after: { segmentId: request.segmentId, policy: `${policy.name}@${policy.version}`, control: result.control, target: result.kept - result.control },
          details: { campaignId: request.campaignId ?? null, productId, category, controlGroupPercent: percent },
        });
        return inserted;
      });
      return runView(row);
    } catch (error) {
      await this.deps.engine.drop(id).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The funnel on the bitmap index, for the engine to compute inside the run's write transaction;
   * undefined when the service has no index. Segment and list leaves are compiled (on a cache
   * miss) by a prepared condition: a condition step's, or the segment reference itself.
   */
  private async bitmapFunnel(segmentId: string, steps: readonly PolicyStep[], ctx: StepContext): Promise<MaterialiseRequest['funnel']> {
    const bitmaps = this.deps.bitmaps;
    if (!bitmaps) return undefined;
    const prepared = ctx.conditions.values().next().value ?? (await this.deps.conditions.prepare({ segment: segmentId }, 'segmentId', { role: 'admin' }));
    // hasProduct as a cached exists leaf; a catalog whose subscriptions cannot say it leaves the step to its statement.
    const stepConditions = new Map<number, PreparedCondition>();
    for (const [i, step] of steps.entries()) {
      if (step.type !== 'hasProduct' || ctx.productId === null) continue;
      const condition = await this.deps.conditions
        .prepare(hasProductCondition(ctx.productId, ctx.today), `steps[${i}]`, { role: 'admin' })
        .catch((error: unknown) => (isAppError(error) ? undefined : Promise.reject(error)));
      if (condition) stepConditions.set(i, condition);
    }
    return (readIds) =>
      bitmapFunnel(bitmaps.index, segmentId, steps, ctx, {
        compileLeaf: (node: Condition, params) => prepared.predicateOf(node, params, 'c'),
        idsOf: (node: Condition, params) => prepared.idsOf(node, params),
        members: (session, condition) => bitmaps.engine.members(session, condition),
        stepConditions,
        readIds,
      });
  }

  /**
   * Drops the per-customer results of preview runs older than `retentionDays` (their funnels stay
   * in Postgres; explain on them answers that the results are no longer kept). Campaign runs are
   * kept: they are what was launched.
   */
  async pruneResults(retentionDays: number): Promise<number> {
    const cutoff = new Date(this.now().getTime() - retentionDays * 86_400_000);
    return this.deps.engine.dropMany(await findPreviewRunIdsBefore(this.deps.db, cutoff));
  }

  async get(id: string): Promise<TargetingRunView> {
    return runView(await this.requireRun(id));
  }

  /** Why a number is (not) in the run's target: the outcome and the evidence of the removing step. */
  async explain(id: string, rawMsisdn: string, actor: Actor): Promise<Explanation> {
    const msisdn = normalisePhoneNumber(rawMsisdn, this.pattern);
    if (msisdn === undefined) {
      throw new AppError('VALIDATION', 'msisdn is not a phone number', [{ path: 'msisdn', message: `must match ${this.deps.msisdnPattern}` }]);
    }
    const run = await this.requireRun(id);
    if (!(await this.deps.engine.runExists(id))) throw new AppError('NOT_FOUND', `The results of targeting run ${id} are no longer kept`);
    const shown = msisdnFor(actor.role, msisdn);
    const base = { runId: id, msisdn: shown, step: null, evidence: null };
    const customers = await this.deps.engine.customersWithNumber(msisdn);
    if (customers.length === 0) {
      return { ...base, customerId: null, outcome: 'not_a_customer', explanation: `${shown} is not the number of any customer in the warehouse` };
    }
    const member = (await this.deps.engine.runMembers(id, customers))[0];
    if (!member) {
      return { ...base, customerId: customers[0]!, outcome: 'not_in_segment', explanation: `Customer ${customers[0]} (${shown}) is not in segment ${run.segment_id}` };
    }
    if (member.removedByStep === 0) {
      const outcome = member.isControl ? 'control' : 'target';
      const explanation = member.isControl
        ? `Customer ${member.customerId} passed every exclusion step and was drawn into the control group (held out, not messaged)`
        : `Customer ${member.customerId} passed every exclusion step and is in the target`;
      return { ...base, customerId: member.customerId, outcome, explanation };
    }
    const steps = (run.steps as unknown[]).map((s) => stepSchema.parse(s));
    const step = steps[member.removedByStep - 1];
    if (!step) throw new Error(`run ${id} has no step ${member.removedByStep}`);
    const stepName = (run.funnel as FunnelEntry[]).find((f): f is Extract<FunnelEntry, { index: number }> => 'index' in f && f.index === member.removedByStep)?.step ?? step.type;
    // Reasons, labels and key names are free text someone typed: they may quote a number.
    const evidence = evidenceFor(actor.role, await this.evidence(step, run, member.customerId, msisdn));
    const name = textFor(actor.role, stepName);
    return {
      ...base,
      customerId: member.customerId,
      outcome: 'excluded',
      step: { index: member.removedByStep, name, type: step.type },
      evidence,
      explanation: `Customer ${member.customerId} was removed by step ${member.removedByStep} (${name})${describeEvidence(evidence)}`,
    };
  }

  private async evidence(step: PolicyStep, run: TargetingRunRow, customerId: number, msisdn: string): Promise<Evidence | null> {
    switch (step.type) {
      case 'list':
      case 'upload': {
        const list = step.type === 'list' ? step.list : step.listId;
        const entry = await findEntry(this.deps.db, list, msisdn);
        if (!entry) return null;
        return {
          kind: 'list',
          list,
          reason: entry.reason,
          source: entry.source,
          addedBy: entry.created_by,
          addedAt: entry.created_at.toISOString(),
          expiresAt: entry.expires_at?.toISOString() ?? null,
          removedAt: entry.deleted_at?.toISOString() ?? null,
          removedBy: entry.deleted_by,
        };
      }
      case 'recentContact': {
        const contact = await this.deps.engine.latestContact(customerId, contactSince(run.as_of, step.days), step.sameCategory ? run.category : null);
        return contact ? { kind: 'contact', days: step.days, ...contact } : null;
      }
      case 'hasProduct': {
        if (!run.product_id) return null;
        const subscription = await this.deps.engine.activeSubscription(customerId, run.product_id, localDate(run.as_of));
        return subscription ? { kind: 'subscription', ...subscription } : null;
      }
      case 'condition':
        return { kind: 'condition', condition: step.condition };
      default:
        return assertNever(step);
    }
  }

  private async requireReadySegment(id: string, actor: Actor): Promise<{ snapshotVersions: Record<string, number> }> {
    if (!UUID.test(id)) throw new AppError('NOT_FOUND', `No segment ${id}`, [{ path: 'segmentId', message: 'no such segment' }]);
    const segment = await this.deps.segments.get(id, actor);
    if (segment.status === 'building') throw new AppError('CONFLICT', `Segment ${id} is still being built; try again shortly`);
    if (segment.status === 'failed') throw new AppError('CONFLICT', `Segment ${id} failed to build; refresh it first`);
    return segment;
  }

  private async requireRun(id: string): Promise<TargetingRunRow> {
    const row = UUID.test(id) ? await findTargetingRun(this.deps.db, id) : undefined;
    if (!row) throw new AppError('NOT_FOUND', `No targeting run ${id}`);
    return row;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The calendar date at `at` in the server's time zone, the one subscription dates are written in. */
export function localDate(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
}

/** The evidence as this role may see it: numbers in its free texts masked by their digits. */
function evidenceFor(role: Role, evidence: Evidence | null): Evidence | null {
  if (!evidence) return null;
  switch (evidence.kind) {
    case 'list':
      return {
        ...evidence,
        reason: textFor(role, evidence.reason),
        addedBy: textFor(role, evidence.addedBy),
        removedBy: textFor(role, evidence.removedBy),
      };
    case 'condition':
      return { ...evidence, condition: textsIn(role, evidence.condition) };
    case 'contact':
    case 'subscription':
      return evidence;
    default:
      return assertNever(evidence);
  }
}

/** Every string inside a JSON value (a condition's values) as this role may see it. */
function textsIn(role: Role, value: unknown): unknown {
  if (typeof value === 'string') return textFor(role, value);
  if (Array.isArray(value)) return value.map((v) => textsIn(role, v));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, textsIn(role, v)]));
  return value;
}

function describeEvidence(evidence: Evidence | null): string {
  if (!evidence) return '';
  switch (evidence.kind) {
    case 'list': {
      const reason = evidence.reason ? `, reason "${evidence.reason}"` : '';
      const removed = evidence.removedAt ? `; the entry has since been removed by ${evidence.removedBy} at ${evidence.removedAt}` : '';
      return `: on the ${evidence.list} list, added by ${evidence.addedBy} at ${evidence.addedAt}${reason}${removed}`;
    }
    case 'contact':
      return `: contacted by campaign ${evidence.campaignId}${evidence.category ? ` (${evidence.category})` : ''} at ${evidence.sentAt}, within ${evidence.days} days`;
    case 'subscription':
      return `: already subscribed to ${evidence.productId} since ${evidence.startDate ?? 'an unknown date'}${evidence.endDate ? ` until ${evidence.endDate}` : ''}`;
    case 'condition':
      return ': matched the step\'s condition';
    default:
      return assertNever(evidence);
  }
}

function runView(row: TargetingRunRow): TargetingRunView {
  const funnel = row.funnel as FunnelEntry[];
  return {
    id: row.id,
    segmentId: row.segment_id,
    campaignId: row.campaign_id,
    policy: { name: row.policy_name, version: row.policy_version },
    productId: row.product_id,
    category: row.category,
    controlGroupPercent: Number(row.control_percent),
    seed: row.seed,
    asOf: row.as_of.toISOString(),
    funnel,
    control: Number(row.control_count),
    target: Number(row.target_count),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    elapsedMs: row.elapsed_ms,
  };
}
