import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { seesPersonalData, type Role } from '../security/roles.js';
import { checkCondition, parseCondition, type CheckOptions, type ConditionRefs, type RefSite } from './check.js';
import { compileLeafIds, compilePredicate } from './compile.js';
import { kindOf, type Condition } from './condition.schemas.js';
import type { AnySqlParams, SqlParams } from './params.js';
import { assertNever } from '../util/assert-never.js';

/** Saved rules by name: the raw stored condition, or undefined when there is no such rule. */
export interface RuleSource {
  getCondition(name: string): Promise<unknown | undefined>;
}

/** Materialisation state of a segment; undefined when there is no such segment. */
export interface SegmentSource {
  status(id: string): Promise<'ready' | 'building' | 'failed' | undefined>;
}

/** Whether a special list of that name exists. */
export interface ListSource {
  exists(name: string): Promise<boolean>;
}

/** A condition that passed every check, with its references resolved and ready to compile. */
export interface PreparedCondition {
  /** The validated AST, as given (rule references not expanded). */
  condition: Condition;
  /** Rule names referenced, transitively. */
  rules: string[];
  /** Segment ids referenced, directly or through rules. */
  segments: string[];
  /** List names referenced, directly or through rules. */
  lists: string[];
  /** Two-valued boolean SQL over customer_profile aliased `alias` (default 'c'). */
  predicate(params: AnySqlParams, alias?: string): string;
  /** The condition with every rule reference replaced by that rule's condition, recursively. */
  expanded(): Condition;
  /**
   * The predicate of one node of `expanded()` (a leaf the bitmap engine evaluates on its own),
   * compiled with the same catalog, window and rules as `predicate`.
   */
  predicateOf(node: Condition, params: SqlParams, alias?: string): string;
  /** For an `exists`, `list` or `segment` node of `expanded()`, the query of its customer ids (`compileLeafIds`). */
  idsOf(node: Condition, params: SqlParams): string | undefined;
}

export interface PrepareOptions {
  /**
   * The role of whoever the condition is evaluated for, now: comparisons on personal columns are
   * refused (403) beyond what that role sees, in the condition and in every rule it reaches,
   * whoever saved those rules.
   */
  role: Role;
  /**
   * The condition is the new definition of this rule: a reference back to it, directly or
   * through other rules, is a cycle.
   */
  asRule?: string;
  /**
   * Where rule references resolve; default the rule library as it is now. An exclusion policy
   * passes the rule versions it pinned when it was saved.
   */
  rules?: RuleSource;
}

export interface ConditionServiceDeps {
  catalog: Catalog;
  config: Pick<Config, 'USAGE_WINDOW_MONTHS' | 'CONDITION_MAX_DEPTH' | 'CONDITION_MAX_NODES'>;
  rules: RuleSource;
  segments: SegmentSource;
  lists: ListSource;
  now?: () => Date;
}

/**
 * Rules may nest rules; each is bounded on its own, so the expansion is bounded by a multiple of
 * the limits (a library rule of 300 nodes used twice is normal; a diamond that doubles at every
 * level is not).
 */
const EXPANSION_FACTOR = 8;

/**
 * The condition language's front door: validation (shape, catalog, references) and compilation
 * to SQL predicates. Segments, exclusions and rules all go through `prepare`.
 */
export class ConditionService {
  private readonly now: () => Date;

  constructor(private readonly deps: ConditionServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Validates (zod + catalog + references) and resolves rules; throws AppError BAD_CONDITION /
   * RULE_CYCLE with paths prefixed by `path`, then FORBIDDEN when a valid condition compares
   * personal data further than `options.role` sees it.
   */
  async prepare(input: unknown, path: string, options: PrepareOptions): Promise<PreparedCondition> {
    const check = { seesPersonalData: seesPersonalData(options.role) };
    const { condition, refs: direct, forbidden } = this.checked(input, path, check);
    const resolved = new Map<string, Condition>();
    const refs: ConditionRefs = { rules: [], segments: [], lists: [] };
    const problems: FieldProblem[] = [];
    await this.resolveRules(options.rules ?? this.deps.rules, check, direct, options.asRule ? [options.asRule] : [], resolved, refs, { problems, forbidden }, undefined);
    refs.segments.push(...direct.segments);
    refs.lists.push(...direct.lists);
    if (problems.length === 0) problems.push(...this.expansionProblems(condition, resolved, path));
    problems.push(...(await this.referenceProblems(refs)));
    if (problems.length > 0) throw badCondition(problems);
    if (forbidden.length > 0) throw personalDataRefused(forbidden, options.role);

    const { catalog, config } = this.deps;
    const unique = (sites: RefSite[]) => [...new Set(sites.map((s) => s.name))];
    const context = () => ({ catalog, windowMonths: config.USAGE_WINDOW_MONTHS, now: this.now(), rules: resolved });
    return {
      condition,
      rules: [...resolved.keys()],
      segments: unique(refs.segments),
      lists: unique(refs.lists),
      predicate: (params, alias = 'c') => compilePredicate(condition, context(), params, alias),
      expanded: () => expandRules(condition, resolved),
      predicateOf: (node, params, alias = 'c') => compilePredicate(node, context(), params, alias),
      idsOf: (node, params) => compileLeafIds(node, context(), params),
    };
  }

  /**
   * Shape and catalog checks of one condition, all problems together; no references followed and
   * no role considered: what `prepare` accepts for a role is narrower.
   */
  validate(input: unknown, path = 'condition'): Condition {
    return this.checked(input, path, { seesPersonalData: true }).condition;
  }

  private checked(input: unknown, path: string, options: CheckOptions): { condition: Condition; refs: ConditionRefs; forbidden: FieldProblem[] } {
    const parsed = parseCondition(input, this.bounds(), path);
    if (parsed.problems) throw badCondition(parsed.problems);
    const { problems, refs, forbidden } = checkCondition(parsed.condition, this.deps.catalog, path, options);
    if (problems.length > 0) throw badCondition(problems);
    return { condition: parsed.condition, refs, forbidden };
  }

  private bounds(): { maxDepth: number; maxNodes: number } {
    return { maxDepth: this.deps.config.CONDITION_MAX_DEPTH, maxNodes: this.deps.config.CONDITION_MAX_NODES };
  }

  /**
   * Depth-first through rule references. `chain` is the path of rule names from the root; meeting
   * one of them again is a cycle. Problems inside a referenced rule are reported at the reference
   * in the caller's condition through which it was reached (`via`), naming the rule that holds it.
   */
  private async resolveRules(
    source: RuleSource,
    check: CheckOptions,
    direct: ConditionRefs,
    chain: string[],
    resolved: Map<string, Condition>,
    refs: ConditionRefs,
    found: { problems: FieldProblem[]; forbidden: FieldProblem[] },
    via: RefSite | undefined,
  ): Promise<void> {
    const { problems, forbidden } = found;
    for (const site of direct.rules) {
      const at = via ?? site;
      const cycleStart = chain.indexOf(site.name);
      if (cycleStart >= 0) {
        const cycle = [...chain.slice(cycleStart), site.name].join(' → ');
        throw new AppError('RULE_CYCLE', `Rule references form a cycle: ${cycle}`, [{ path: at.path, message: `cycle ${cycle}` }], {
          cycle: [...chain.slice(cycleStart), site.name],
        });
      }
      if (resolved.has(site.name)) continue;
      const raw = await source.getCondition(site.name);
      const holder = chain.length > 0 && via ? chain[chain.length - 1] : undefined;
      const through = holder ? ` (through rule ${JSON.stringify(holder)})` : '';
      if (raw === undefined) {
        problems.push({ path: at.path, message: `rule ${JSON.stringify(site.name)} does not exist${through}` });
        continue;
      }
      const parsed = parseCondition(raw, this.bounds(), '');
      const checked = parsed.condition ? checkCondition(parsed.condition, this.deps.catalog, '', check) : undefined;
      const inner = parsed.problems ?? checked?.problems ?? [];
      if (inner.length > 0 || !parsed.condition || !checked) {
        for (const p of inner) {
          problems.push({ path: at.path, message: `rule ${JSON.stringify(site.name)} is no longer valid${through}: ${p.path ? `${p.path}: ` : ''}${p.message}` });
        }
        continue;
      }
      for (const p of checked.forbidden) {
        forbidden.push({ path: at.path, message: `rule ${JSON.stringify(site.name)}${through} at ${p.path || 'its root'}: ${p.message}` });
      }
      resolved.set(site.name, parsed.condition);
      // Segments and lists inside rules are reported at the reference that brought them in.
      refs.segments.push(...checked.refs.segments.map((s) => ({ name: s.name, path: at.path, via: site.name })));
      refs.lists.push(...checked.refs.lists.map((s) => ({ name: s.name, path: at.path, via: site.name })));
      await this.resolveRules(source, check, checked.refs, [...chain, site.name], resolved, refs, found, at);
    }
  }

  private expansionProblems(condition: Condition, rules: ReadonlyMap<string, Condition>, path: string): FieldProblem[] {
    const memo = new Map<string, { nodes: number; depth: number }>();
    const measure = (node: Condition): { nodes: number; depth: number } => {
      switch (kindOf(node)) {
        case 'all':
        case 'any': {
          const children = ('all' in node ? node.all : (node as { any: Condition[] }).any).map(measure);
          return { nodes: 1 + sum(children.map((c) => c.nodes)), depth: 1 + Math.max(...children.map((c) => c.depth)) };
        }
        case 'not': {
          const child = measure((node as { not: Condition }).not);
          return { nodes: 1 + child.nodes, depth: 1 + child.depth };
        }
        case 'exists': {
          const where = (node as { exists: { where?: Condition } }).exists.where;
          const child = where ? measure(where) : { nodes: 0, depth: 0 };
          return { nodes: 1 + child.nodes, depth: 1 + child.depth };
        }
        case 'rule': {
          const name = (node as { rule: string }).rule;
          let m = memo.get(name);
          if (!m) {
            m = measure(rules.get(name)!);
            memo.set(name, m);
          }
          return { nodes: m.nodes, depth: m.depth };
        }
        default:
          return { nodes: 1, depth: 1 };
      }
    };
    const { nodes, depth } = measure(condition);
    const maxNodes = this.deps.config.CONDITION_MAX_NODES * EXPANSION_FACTOR;
    const maxDepth = this.deps.config.CONDITION_MAX_DEPTH * EXPANSION_FACTOR;
    if (nodes > maxNodes) return [{ path, message: `with its rules expanded the condition has ${nodes} nodes, more than ${maxNodes}` }];
    if (depth > maxDepth) return [{ path, message: `with its rules expanded the condition nests ${depth} levels, more than ${maxDepth}` }];
    return [];
  }

  /** Segments must be materialised and lists must exist; each distinct name is asked about once. */
  private async referenceProblems(refs: ConditionRefs): Promise<FieldProblem[]> {
    const problems: FieldProblem[] = [];
    const seen = new Set<string>();
    for (const site of refs.segments) {
      if (seen.has(`s:${site.name}`)) continue;
      seen.add(`s:${site.name}`);
      const status = await this.deps.segments.status(site.name);
      const through = usedBy(site);
      if (status === undefined) problems.push({ path: site.path, message: `segment ${site.name} does not exist${through}` });
      else if (status === 'building') problems.push({ path: site.path, message: `segment ${site.name} is still being built${through}; try again when it is ready` });
      else if (status === 'failed') problems.push({ path: site.path, message: `segment ${site.name} failed to build${through}; refresh it first` });
    }
    for (const site of refs.lists) {
      if (seen.has(`l:${site.name}`)) continue;
      seen.add(`l:${site.name}`);
      if (!(await this.deps.lists.exists(site.name))) {
        problems.push({ path: site.path, message: `list ${JSON.stringify(site.name)} does not exist${usedBy(site)}` });
      }
    }
    return problems;
  }
}

/** ` (used by rule "x")` for a reference reached through a rule, empty for a direct one. */
function usedBy(site: RefSite): string {
  return site.via ? ` (used by rule ${JSON.stringify(site.via)})` : '';
}

/** `condition` with each `{rule}` replaced by the rule's (expanded) condition. */
export function expandRules(condition: Condition, rules: ReadonlyMap<string, Condition>): Condition {
  const kind = kindOf(condition);
  switch (kind) {
    case 'all':
      return { all: (condition as { all: Condition[] }).all.map((c) => expandRules(c, rules)) };
    case 'any':
      return { any: (condition as { any: Condition[] }).any.map((c) => expandRules(c, rules)) };
    case 'not':
      return { not: expandRules((condition as { not: Condition }).not, rules) };
    case 'rule': {
      const name = (condition as { rule: string }).rule;
      const resolved = rules.get(name);
      if (!resolved) throw new Error(`rule ${name} was not resolved before expanding`);
      return expandRules(resolved, rules);
    }
    case 'field':
    case 'exists':
    case 'aggregate':
    case 'segment':
    case 'list':
      return condition;
    default:
      return assertNever(kind);
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function badCondition(problems: FieldProblem[]): AppError {
  const first = problems
    .slice(0, 3)
    .map((p) => (p.path ? `${p.path}: ${p.message}` : p.message))
    .join('; ');
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
  return new AppError('BAD_CONDITION', `${first}${more}`, problems);
}

function personalDataRefused(problems: FieldProblem[], role: Role): AppError {
  const first = problems
    .slice(0, 3)
    .map((p) => `${p.path}: ${p.message}`)
    .join('; ');
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
  return new AppError('FORBIDDEN', `The ${role} role sees personal data masked and may not compare it this way: ${first}${more}`, problems);
}
