import type { PrepareOptions, PreparedCondition } from '../conditions/condition.service.js';
import type { Db } from '../db/kysely.js';
import { AppError, isAppError, type FieldProblem } from '../http/errors.js';
import type { ListRow } from '../lists/list.repository.js';
import { recordAudit } from '../security/audit.js';
import type { Actor, Role } from '../security/roles.js';
import {
  findPolicyVersion,
  insertPolicy,
  insertPolicyVersion,
  listPolicies,
  lockPolicy,
  setCurrentVersion,
  type PolicyVersionRow,
} from './policy.repository.js';
import { stepSchema, type PolicyStep } from './policy.schemas.js';
import { currentRuleVersions } from '../rules/rule.service.js';
import { pinnedRuleSource, pinningRuleSource, type CurrentRules, type RulePin } from './rule-pins.js';
import { canonicalJson } from '../util/json.js';
import { assertNever } from '../util/assert-never.js';

/** The condition compiler as exclusions use it (src/conditions/condition.service.ts). */
export interface ConditionPreparer {
  prepare(input: unknown, path: string, options: PrepareOptions): Promise<PreparedCondition>;
}

/** Lists as exclusions use them (src/lists/list.service.ts). */
export interface ListLookup {
  get(name: string): Promise<ListRow | undefined>;
}

export interface PolicyView {
  name: string;
  description: string | null;
  version: number;
  steps: PolicyStep[];
  /** Every rule the condition steps reach, directly or nested, as resolved when this version was saved. */
  rules: RulePin[];
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

export interface PutOutcome {
  policy: PolicyView;
  /** false when the body equals the current version (no new version is written). */
  changed: boolean;
  created: boolean;
}

/**
 * Exclusion policies: named, versioned, ordered steps. A PUT that changes anything writes a new
 * version (runs keep pointing at the version they used); every step is checked before anything
 * is written, and all problems are reported together with their JSON paths.
 *
 * A version pins the saved rules its condition steps reach, and runs evaluate those pins, not the
 * library: analysts may edit rules, but only an operator saving the policy again changes what it
 * removes (and that save writes a new version when a pinned rule has moved on).
 */
export class PolicyService {
  private readonly rules: CurrentRules;

  constructor(private readonly deps: { db: Db; conditions: ConditionPreparer; lists: ListLookup; rules?: CurrentRules }) {
    this.rules = deps.rules ?? currentRuleVersions(deps.db);
  }

  async list(): Promise<Array<Omit<PolicyView, 'steps'> & { steps: number }>> {
    const rows = await listPolicies(this.deps.db);
    return rows.map((r) => ({ ...policyView(r), steps: r.steps.length }));
  }

  async get(name: string, version?: number): Promise<PolicyView> {
    const row = await findPolicyVersion(this.deps.db, name, version);
    if (!row) {
      throw new AppError('NOT_FOUND', version === undefined ? `No exclusion policy named ${name}` : `Exclusion policy ${name} has no version ${version}`);
    }
    return policyView(row);
  }

  async put(name: string, body: { description?: string | null; steps: PolicyStep[] }, actor: Actor): Promise<PutOutcome> {
    const rulePins = await this.checkSteps(body.steps, actor.role);
    return this.deps.db.transaction().execute(async (trx) => {
      const locked = await lockPolicy(trx, name);
      const before = locked ? await findPolicyVersion(trx, name) : undefined;
      const description = body.description === undefined ? (before?.description ?? null) : body.description;
      if (
        before &&
        description === before.description &&
        canonicalJson(before.steps) === canonicalJson(body.steps) &&
        canonicalJson(before.rule_pins) === canonicalJson(rulePins)
      ) {
        return { policy: policyView(before), changed: false, created: false };
      }
      const version = (locked?.current_version ?? 0) + 1;
      if (!locked) {
        try {
          await insertPolicy(trx, { name, description, actor: actor.name });
        } catch (error) {
          if ((error as { code?: string }).code === '23505') throw new AppError('CONFLICT', `Policy ${name} was created concurrently; try again`);
          throw error;
        }
      } else {
        await setCurrentVersion(trx, { name, description, version, actor: actor.name });
      }
      await insertPolicyVersion(trx, { name, version, description, steps: body.steps, rulePins, actor: actor.name });
      const after = await findPolicyVersion(trx, name);
      await recordAudit(trx, actor, {
        action: locked ? 'exclusion_policy.update' : 'exclusion_policy.create',
        targetType: 'exclusion_policy',
        targetId: name,
        before: before ? { version: before.version, description: before.description, steps: before.steps, rules: pinVersions(before.rule_pins) } : null,
        after: { version, description, steps: body.steps, rules: pinVersions(rulePins) },
      });
      return { policy: policyView(after!), changed: true, created: !locked };
    });
  }

  /**
   * The condition steps of a policy version, by step index, prepared against the rules it pinned
   * (never the library as it is now), for a caller of `role`: whoever saved the policy, its
   * conditions may not compare personal data further than the caller sees it.
   */
  async prepareConditions(policy: Pick<PolicyView, 'steps' | 'rules'>, role: Role): Promise<Map<number, PreparedCondition>> {
    const rules = pinnedRuleSource(policy.rules);
    const conditions = new Map<number, PreparedCondition>();
    for (const [i, step] of policy.steps.entries()) {
      if (step.type === 'condition') conditions.set(i, await this.deps.conditions.prepare(step.condition, `policy.steps[${i}].condition`, { rules, role }));
    }
    return conditions;
  }

  /**
   * Semantic checks beyond the body schema: lists exist (upload steps name custom lists) and
   * conditions compile. Problems from every step are gathered before failing. Returns the rules
   * the condition steps resolved to, the pins of the version about to be written. A valid policy
   * whose conditions compare personal data further than `role` sees it is refused (FORBIDDEN).
   */
  async checkSteps(steps: readonly PolicyStep[], role: Role): Promise<RulePin[]> {
    const pinning = pinningRuleSource(this.rules);
    const problems: FieldProblem[] = [];
    const forbidden: FieldProblem[] = [];
    let code: 'VALIDATION' | 'BAD_CONDITION' = 'VALIDATION';
    for (const [i, step] of steps.entries()) {
      switch (step.type) {
        case 'list': {
          if (!(await this.deps.lists.get(step.list))) problems.push({ path: `steps[${i}].list`, message: `list ${JSON.stringify(step.list)} does not exist` });
          break;
        }
        case 'upload': {
          const list = await this.deps.lists.get(step.listId);
          if (!list) problems.push({ path: `steps[${i}].listId`, message: `list ${JSON.stringify(step.listId)} does not exist` });
          else if (list.kind !== 'custom') {
            problems.push({ path: `steps[${i}].listId`, message: `${step.listId} is a system list; use a {"type":"list"} step for it` });
          }
          break;
        }
        case 'condition': {
          try {
            await this.deps.conditions.prepare(step.condition, `steps[${i}].condition`, { rules: pinning.source, role });
          } catch (error) {
            if (!isAppError(error) || !error.errors) throw error;
            if (error.code === 'FORBIDDEN') {
              forbidden.push(...error.errors);
              break;
            }
            problems.push(...error.errors);
            if (error.code === 'BAD_CONDITION' || error.code === 'RULE_CYCLE') code = 'BAD_CONDITION';
          }
          break;
        }
        case 'recentContact':
        case 'hasProduct':
          break;
        default:
          assertNever(step);
      }
    }
    if (problems.length > 0) {
      const first = problems
        .slice(0, 3)
        .map((p) => `${p.path}: ${p.message}`)
        .join('; ');
      throw new AppError(code, `The policy is not valid: ${first}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`, problems);
    }
    if (forbidden.length > 0) {
      throw new AppError('FORBIDDEN', `The ${role} role sees personal data masked and may not compare it this way: ${forbidden[0]!.path}: ${forbidden[0]!.message}`, forbidden);
    }
    return pinning.pins();
  }
}

function policyView(row: PolicyVersionRow): PolicyView {
  return {
    name: row.name,
    description: row.description,
    version: row.version,
    // Stored steps were validated by this schema when written; parsing again types them.
    steps: row.steps.map((s) => stepSchema.parse(s)),
    rules: row.rule_pins,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
  };
}

/** `{name: version}` of the pins, as the audit trail records them. */
function pinVersions(pins: readonly RulePin[]): Record<string, number> {
  return Object.fromEntries(pins.map((p) => [p.name, p.version]));
}
