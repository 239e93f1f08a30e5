import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { directReferences } from '../conditions/check.js';
import { ruleNameSchema, RULE_NAME_PATTERN, type Condition } from '../conditions/condition.schemas.js';
import type { PrepareOptions, PreparedCondition, RuleSource } from '../conditions/condition.service.js';
import type { Db } from '../db/kysely.js';
import { AppError } from '../http/errors.js';
import { recordAudit } from '../security/audit.js';
import { SYSTEM_ACTOR, type Actor } from '../security/roles.js';
import {
  deleteRuleRow,
  findRule,
  findRuleCondition,
  insertRule,
  insertRuleVersion,
  lastRuleChange,
  lastRuleVersion,
  listRules,
  listRuleVersions,
  lockRuleLibrary,
  rulesReachableFrom,
  rulesReferencingRule,
  rulesReferencingSegment,
  updateRule,
  type RuleRow,
  type RuleVersionRow,
} from './rule.repository.js';
import { canonicalJson } from '../util/json.js';

/** What the rules feature needs of the condition service. */
export interface RuleConditionPreparer {
  prepare(input: unknown, path: string, options: PrepareOptions): Promise<PreparedCondition>;
}

/** Which segments reach a rule, directly or through other rules (the segments feature answers). */
export interface RuleUsage {
  segmentsUsingRule(name: string): Promise<Array<{ id: string; name: string }>>;
}

/**
 * Anything else that holds on to rules (an exclusion policy's condition step, a campaign). `find`
 * returns readable names of what uses the rule, empty when nothing does.
 */
export interface RuleDependants {
  kind: string;
  find(ruleName: string): Promise<string[]>;
}

export interface RuleView {
  name: string;
  description: string;
  /** Stored only after validation, so always a well-formed condition. */
  condition: Condition;
  version: number;
  source: 'library' | 'api';
  /** What the rule's own condition names (rules not followed). */
  references: { rules: string[]; segments: string[]; lists: string[] };
  createdAt: string;
  updatedAt: string;
  updatedBy: string;
}

export interface RuleVersionView {
  version: number;
  change: 'create' | 'update' | 'delete';
  source: 'library' | 'api';
  description: string;
  condition: Condition;
  changedBy: string;
  changedAt: string;
}

export interface RuleInput {
  description: string;
  condition: unknown;
}

export interface PutOutcome {
  rule: RuleView;
  /** The rule did not exist before. */
  created: boolean;
  /** A new version was written (false when the definition was already exactly this). */
  changed: boolean;
}

export interface SeedOutcome {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Library rules left alone because an API user edited or deleted them since. */
  kept: string[];
  invalid: Array<{ file: string; message: string }>;
}

/** One file of the shipped library (`rules/*.json`). */
export const libraryRuleSchema = z.strictObject({
  name: ruleNameSchema,
  description: z.string().max(2000),
  condition: z.unknown(),
});

/** The rule library as the condition service reads it. */
export function ruleConditionSource(db: Db): RuleSource {
  return { getCondition: (name) => (RULE_NAME_PATTERN.test(name) ? findRuleCondition(db, name) : Promise.resolve(undefined)) };
}

/** The rule library's current version and condition by name, as exclusion policies pin them. */
export function currentRuleVersions(db: Db): { current(name: string): Promise<{ version: number; condition: unknown } | undefined> } {
  return {
    async current(name) {
      const row = await findRule(db, name);
      return row && { version: row.version, condition: row.condition };
    },
  };
}

/**
 * The saved-rule library (规则积累): named conditions that may reference each other, versioned in
 * Postgres with who changed what and when. The shipped `rules/` folder seeds it at start.
 */
export class RuleService {
  constructor(
    private readonly deps: {
      db: Db;
      conditions: RuleConditionPreparer;
      usage: RuleUsage;
      logger: Logger;
    },
  ) {}

  private readonly dependants: RuleDependants[] = [];

  /** Lets a feature that holds on to rules veto their deletion (409 IN_USE naming its users). */
  addDependants(check: RuleDependants): void {
    this.dependants.push(check);
  }

  async list(): Promise<RuleView[]> {
    return (await listRules(this.deps.db)).map(toView);
  }

  async get(name: string): Promise<RuleView> {
    const row = await findRule(this.deps.db, name);
    if (!row) throw notFound(name);
    return toView(row);
  }

  /** Every version, newest first; also for a deleted rule, whose history outlives it. */
  async versions(name: string): Promise<RuleVersionView[]> {
    const rows = await listRuleVersions(this.deps.db, name);
    if (rows.length === 0) throw notFound(name);
    return rows.map(toVersionView);
  }

  /** Creates the rule or writes its next version; cycles through the new definition are rejected. */
  async put(name: string, input: RuleInput, actor: Actor): Promise<PutOutcome> {
    return this.write(name, input, actor, 'api', 'condition');
  }

  /** Deletes the rule unless another rule or a segment still uses it (409 IN_USE naming them). */
  async delete(name: string, actor: Actor): Promise<void> {
    // Asked before the transaction: holding a connection while waiting for another could starve the pool.
    const segments = await this.deps.usage.segmentsUsingRule(name);
    const others: Record<string, string[]> = {};
    for (const check of this.dependants) {
      const found = await check.find(name);
      if (found.length > 0) others[check.kind] = found;
    }
    await this.deps.db.transaction().execute(async (trx) => {
      await lockRuleLibrary(trx);
      const row = await findRule(trx, name);
      if (!row) throw notFound(name);
      const rules = await rulesReferencingRule(trx, name);
      if (rules.length > 0 || segments.length > 0 || Object.keys(others).length > 0) {
        const users = [
          ...(rules.length > 0 ? [`rules ${rules.join(', ')}`] : []),
          ...(segments.length > 0 ? [`segments ${segments.map((s) => `${s.name} (${s.id})`).join(', ')}`] : []),
          ...Object.entries(others).map(([kind, names]) => `${kind} ${names.join(', ')}`),
        ];
        throw new AppError('IN_USE', `Rule ${name} is still used by ${users.join(' and ')}`, undefined, { rules, segments, others });
      }
      const version = Math.max(row.version, await lastRuleVersion(trx, name)) + 1;
      await deleteRuleRow(trx, name);
      await insertRuleVersion(trx, {
        name,
        version,
        change: 'delete',
        source: row.source,
        description: row.description,
        condition: row.condition,
        by: actor.name,
      });
      await recordAudit(trx, actor, {
        action: 'rule.delete',
        targetType: 'rule',
        targetId: name,
        before: { description: row.description, condition: row.condition, version: row.version },
      });
    });
  }

  /** Rules whose own condition names the segment (the segments feature asks before a delete). */
  async rulesUsingSegment(segmentId: string): Promise<string[]> {
    return rulesReferencingSegment(this.deps.db, segmentId.toLowerCase());
  }

  /**
   * Loads `dir/*.json` into the library as source 'library'. New rules are created, shipped
   * changes to library rules are applied, and a rule an API user has edited or deleted since is
   * left as they left it. Rules are loaded after the library rules they reference.
   */
  async seedFromDirectory(dir: string): Promise<SeedOutcome> {
    const outcome: SeedOutcome = { created: [], updated: [], unchanged: [], kept: [], invalid: [] };
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
      this.deps.logger.warn({ dir }, 'rule library folder not found');
      return outcome;
    }
    const library = new Map<string, { file: string; rule: z.infer<typeof libraryRuleSchema> }>();
    for (const file of files) {
      const parsed = libraryRuleSchema.safeParse(await readJson(path.join(dir, file)));
      if (!parsed.success) {
        outcome.invalid.push({ file, message: parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ') });
        continue;
      }
      if (library.has(parsed.data.name)) {
        outcome.invalid.push({ file, message: `rule ${parsed.data.name} is also defined in ${library.get(parsed.data.name)!.file}` });
        continue;
      }
      library.set(parsed.data.name, { file, rule: parsed.data });
    }

    for (const name of dependencyOrder(library)) {
      const { file, rule } = library.get(name)!;
      try {
        const result = await this.write(name, rule, SYSTEM_ACTOR, 'library', `${file}: condition`);
        if (result === 'kept') outcome.kept.push(name);
        else if (result.created) outcome.created.push(name);
        else if (result.changed) outcome.updated.push(name);
        else outcome.unchanged.push(name);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        const details = error.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
        outcome.invalid.push({ file, message: details ?? error.message });
      }
    }
    for (const bad of outcome.invalid) this.deps.logger.error({ dir, file: bad.file, problem: bad.message }, 'rule library file rejected');
    this.deps.logger.info(
      {
        dir,
        created: outcome.created,
        updated: outcome.updated,
        unchanged: outcome.unchanged.length,
        kept: outcome.kept,
        invalid: outcome.invalid.length,
      },
      'rule library loaded',
    );
    return outcome;
  }

  /** An API user edited the library rule, or deleted it: the library must not undo that. */
  private async keptByUsers(name: string, db: Db = this.deps.db): Promise<boolean> {
    const existing = await findRule(db, name);
    if (existing) return existing.source === 'api';
    return (await lastRuleChange(db, name))?.change === 'delete';
  }

  private async write(name: string, input: RuleInput, actor: Actor, source: 'api', path: string): Promise<PutOutcome>;
  private async write(name: string, input: RuleInput, actor: Actor, source: 'library', path: string): Promise<PutOutcome | 'kept'>;
  private async write(name: string, input: RuleInput, actor: Actor, source: 'api' | 'library', path: string): Promise<PutOutcome | 'kept'> {
    if (!RULE_NAME_PATTERN.test(name)) {
      throw new AppError('VALIDATION', `Invalid rule name ${JSON.stringify(name)}`, [{ path: 'name', message: 'a rule name is 2–64 characters: a-z, 0-9, "_" and "-"' }]);
    }
    if (source === 'library' && (await this.keptByUsers(name))) return 'kept';
    // Full validation (catalog, references, cycles) before taking the lock; it reads through the pool.
    const prepared = await this.deps.conditions.prepare(input.condition, path, { asRule: name, role: actor.role });
    const refs = directReferences(prepared.condition);
    return this.deps.db.transaction().execute(async (trx) => {
      await lockRuleLibrary(trx);
      // Another writer may have committed since the check; the cycle test is repeated under the lock.
      const reachable = await rulesReachableFrom(trx, refs.rules);
      if (reachable.includes(name)) {
        throw new AppError('RULE_CYCLE', `Rule ${name} would reach itself through ${refs.rules.join(', ')}`, [
          { path, message: `rule ${name} is reachable from its own references` },
        ]);
      }
      if (source === 'library' && (await this.keptByUsers(name, trx))) return 'kept';
      const existing = await findRule(trx, name);
      if (existing && existing.description === input.description && canonicalJson(existing.condition) === canonicalJson(prepared.condition)) {
        return { rule: toView(existing), created: false, changed: false };
      }
      const version = Math.max(existing?.version ?? 0, await lastRuleVersion(trx, name)) + 1;
      const write = {
        name,
        description: input.description,
        condition: prepared.condition,
        version,
        source,
        ruleRefs: refs.rules,
        segmentRefs: refs.segments,
        by: actor.name,
      };
      const row = existing ? await updateRule(trx, write) : await insertRule(trx, write);
      await insertRuleVersion(trx, { ...write, change: existing ? 'update' : 'create' });
      await recordAudit(trx, actor, {
        action: existing ? 'rule.update' : 'rule.create',
        targetType: 'rule',
        targetId: name,
        before: existing ? { description: existing.description, condition: existing.condition, version: existing.version } : undefined,
        after: { description: input.description, condition: prepared.condition, version },
        details: { source },
      });
      return { rule: toView(row), created: !existing, changed: true };
    });
  }
}

function notFound(name: string): AppError {
  return new AppError('NOT_FOUND', `No rule named ${JSON.stringify(name)}`);
}

function toView(row: RuleRow): RuleView {
  const condition = row.condition as Condition;
  return {
    name: row.name,
    description: row.description,
    condition,
    version: row.version,
    source: row.source,
    references: directReferences(condition),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    updatedBy: row.updated_by,
  };
}

function toVersionView(row: RuleVersionRow): RuleVersionView {
  return {
    version: row.version,
    change: row.change,
    source: row.source,
    description: row.description,
    condition: row.condition as Condition,
    changedBy: row.changed_by,
    changedAt: new Date(row.changed_at).toISOString(),
  };
}

async function readJson(file: string): Promise<unknown> {
  const text = await readFile(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return { invalidJson: (error as Error).message };
  }
}

/**
 * Library rules ordered so each comes after the library rules it references. A cycle among them
 * leaves its members in file order; prepare then reports the cycle.
 */
function dependencyOrder(library: ReadonlyMap<string, { rule: { condition: unknown } }>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const refsOf = (name: string): string[] => {
    const raw = JSON.stringify(library.get(name)!.rule.condition ?? null);
    // A cheap scan of the raw JSON: shape is validated later, ordering only needs the names.
    return [...raw.matchAll(/"rule":"([a-z0-9_-]+)"/g)].map((m) => m[1]!).filter((n) => library.has(n));
  };
  const visit = (name: string): void => {
    if (state.get(name)) return;
    state.set(name, 'visiting');
    for (const ref of refsOf(name)) visit(ref);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of library.keys()) visit(name);
  return order;
}
