import type { PreparedCondition } from '../conditions/condition.service.js';
import type { Db } from '../db/kysely.js';
import { AppError, isAppError, type FieldProblem } from '../http/errors.js';
import type { ListRow } from '../lists/list.repository.js';
import { recordAudit } from '../security/audit.js';
import type { Actor } from '../security/roles.js';
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
import { canonicalJson } from '../util/json.js';
import { assertNever } from '../util/assert-never.js';

/** The condition compiler as exclusions use it (src/conditions/condition.service.ts). */
export interface ConditionPreparer {
  prepare(input: unknown, path?: string): Promise<PreparedCondition>;
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
 */
export class PolicyService {
  constructor(private readonly deps: { db: Db; conditions: ConditionPreparer; lists: ListLookup }) {}

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
    await this.checkSteps(body.steps);
    return this.deps.db.transaction().execute(async (trx) => {
      const locked = await lockPolicy(trx, name);
      const before = locked ? await findPolicyVersion(trx, name) : undefined;
      const description = body.description === undefined ? (before?.description ?? null) : body.description;
      if (before && description === before.description && canonicalJson(before.steps) === canonicalJson(body.steps)) {
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
      await insertPolicyVersion(trx, { name, version, description, steps: body.steps, actor: actor.name });
      const after = await findPolicyVersion(trx, name);
      await recordAudit(trx, actor, {
        action: locked ? 'exclusion_policy.update' : 'exclusion_policy.create',
        targetType: 'exclusion_policy',
        targetId: name,
        before: before ? { version: before.version, description: before.description, steps: before.steps } : null,
        after: { version, description, steps: body.steps },
      });
      return { policy: policyView(after!), changed: true, created: !locked };
    });
  }

  /**
   * Semantic checks beyond the body schema: lists exist (upload steps name custom lists) and
   * conditions compile. Problems from every step are gathered before failing.
   */
  async checkSteps(steps: readonly PolicyStep[]): Promise<void> {
    const problems: FieldProblem[] = [];
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
            await this.deps.conditions.prepare(step.condition, `steps[${i}].condition`);
          } catch (error) {
            if (!isAppError(error) || !error.errors) throw error;
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
  }
}

function policyView(row: PolicyVersionRow): PolicyView {
  return {
    name: row.name,
    description: row.description,
    version: row.version,
    // Stored steps were validated by this schema when written; parsing again types them.
    steps: row.steps.map((s) => stepSchema.parse(s)),
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
  };
}
