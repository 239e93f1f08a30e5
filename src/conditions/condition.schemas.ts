import { z } from 'zod';
import { formatJsonPath } from '../http/errors.js';

/**
 * The condition language of DESIGN.md as one zod definition: it validates request bodies, types the
 * compiler and documents the API (component `Condition`). Semantic checks against the catalog live
 * in check.ts; this file is only about shape.
 */

export const OPS = [
  'eq',
  'ne',
  'lt',
  'lte',
  'gt',
  'gte',
  'between',
  'in',
  'not_in',
  'is_null',
  'not_null',
  'starts_with',
  'contains',
] as const;
export type Op = (typeof OPS)[number];

export const AGGREGATE_FNS = ['avg', 'sum', 'min', 'max', 'count'] as const;
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

export type Scalar = string | number | boolean;
export type Value = Scalar | Scalar[];

export interface AllCondition {
  all: Condition[];
}
export interface AnyCondition {
  any: Condition[];
}
export interface NotCondition {
  not: Condition;
}
export interface FieldCondition {
  field: string;
  op: Op;
  value?: Value;
}
export interface ExistsCondition {
  exists: { dataset: string; where?: Condition };
}
export interface AggregateCondition {
  aggregate: { dataset: string; fn: AggregateFn; field: string; lastMonths: number; op: Op; value?: Value };
}
export interface RuleCondition {
  rule: string;
}
export interface SegmentCondition {
  segment: string;
}
export interface ListCondition {
  list: string;
}

/** A condition: a set of customers. */
export type Condition =
  | AllCondition
  | AnyCondition
  | NotCondition
  | FieldCondition
  | ExistsCondition
  | AggregateCondition
  | RuleCondition
  | SegmentCondition
  | ListCondition;

/** The node kinds, each named by the one key that identifies it. */
export const NODE_KINDS = ['all', 'any', 'not', 'field', 'exists', 'aggregate', 'rule', 'segment', 'list'] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Which kind a (shape-valid) node is. */
export function kindOf(node: Condition): NodeKind {
  if ('all' in node) return 'all';
  if ('any' in node) return 'any';
  if ('not' in node) return 'not';
  if ('field' in node) return 'field';
  if ('exists' in node) return 'exists';
  if ('aggregate' in node) return 'aggregate';
  if ('rule' in node) return 'rule';
  if ('segment' in node) return 'segment';
  return 'list';
}

/** Saved-rule names: lower case, digits, `_` and `-`, 2–64 characters. */
export const RULE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{1,63}$/;
export const ruleNameSchema = z
  .string()
  .regex(RULE_NAME_PATTERN, 'a rule name is 2–64 characters: a-z, 0-9, "_" and "-", starting with a letter or digit');

export const opSchema = z.enum(OPS);
export const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);
export const valueSchema = z.union([scalarSchema, z.array(scalarSchema)]);

const ref = z.string().min(1).max(128);

// Branches in NODE_KINDS order: the error mapping below relies on it to pick the branch a node meant.
const allSchema = z.strictObject({
  get all() {
    return z.array(conditionNodeSchema).min(1, 'needs at least one condition');
  },
});
const anySchema = z.strictObject({
  get any() {
    return z.array(conditionNodeSchema).min(1, 'needs at least one condition');
  },
});
const notSchema = z.strictObject({
  get not() {
    return conditionNodeSchema;
  },
});
const fieldSchema = z.strictObject({ field: ref, op: opSchema, value: valueSchema.optional() });
const existsSchema = z.strictObject({
  exists: z.strictObject({
    dataset: ref,
    get where() {
      return conditionNodeSchema.optional();
    },
  }),
});
const aggregateSchema = z.strictObject({
  aggregate: z.strictObject({
    dataset: ref,
    fn: z.enum(AGGREGATE_FNS),
    field: ref,
    lastMonths: z.number().int('must be a whole number of months').min(1).max(120),
    op: opSchema,
    value: valueSchema.optional(),
  }),
});
const ruleSchema = z.strictObject({ rule: ruleNameSchema });
const segmentSchema = z.strictObject({ segment: z.guid('a segment id is a UUID') });
const listSchema = z.strictObject({ list: ref });

const BRANCHES = [allSchema, anySchema, notSchema, fieldSchema, existsSchema, aggregateSchema, ruleSchema, segmentSchema, listSchema];

/**
 * When no branch fits, the useful error is the one of the branch whose key the node carries; the
 * union's default ("Invalid input") names nothing.
 */
function describeNodeProblem(input: unknown): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return `expected a condition object, got ${describeJson(input)}`;
  }
  const keys = Object.keys(input);
  const kinds = keys.filter((k): k is NodeKind => (NODE_KINDS as readonly string[]).includes(k));
  if (kinds.length !== 1) {
    const got = keys.length === 0 ? 'no keys' : `keys ${keys.join(', ')}`;
    return `expected exactly one of ${NODE_KINDS.join(', ')}; got ${got}`;
  }
  const branch = BRANCHES[NODE_KINDS.indexOf(kinds[0]!)]!;
  const result = branch.safeParse(input);
  const first = result.error?.issues[0];
  if (!first) return 'invalid condition';
  const where = first.path.length > 0 ? `${formatJsonPath(first.path)}: ` : '';
  return `${where}${first.message}`;
}

/** One condition node, recursively; the OpenAPI component `Condition`. Use it for responses. */
export const conditionNodeSchema: z.ZodType<Condition> = z
  .union(BRANCHES, {
    error: (issue) => (issue.code === 'invalid_union' ? describeNodeProblem(issue.input) : undefined),
  })
  .meta({
    id: 'Condition',
    description:
      'A set of customers. all/any/not combine conditions; field compares a customers column; exists and aggregate look at related datasets; rule, segment and list reference saved definitions.',
    examples: [{ all: [{ field: 'arpu', op: 'gte', value: 100 }, { not: { list: 'blacklist' } }] }],
  }) as unknown as z.ZodType<Condition>;

/**
 * A condition in a request body validated by zod alone. Depth and size are checked on the raw JSON
 * first, so a 100,000-level document is rejected in linear time instead of overflowing the stack.
 * Parse-only (it cannot encode responses). Routes that call `ConditionService.prepare` may instead
 * take the body as unknown and let prepare report shape and catalog problems together.
 */
export const conditionSchema: z.ZodType<Condition> = z.preprocess((input, ctx) => {
  const problem = conditionBoundsProblem(input, DEFAULT_BOUNDS);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input });
  return input;
}, conditionNodeSchema) as unknown as z.ZodType<Condition>;

export interface ConditionBounds {
  maxDepth: number;
  maxNodes: number;
}

/** Matches config defaults; the service re-checks with the configured values. */
export const DEFAULT_BOUNDS: ConditionBounds = { maxDepth: 12, maxNodes: 500 };

/**
 * Depth and node count of a raw condition, walked iteratively with no recursion. Returns a message
 * when a bound is exceeded. Only the condition structure (all/any/not/exists.where) is followed.
 */
export function conditionBoundsProblem(input: unknown, bounds: ConditionBounds): string | undefined {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: input, depth: 1 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object' || Array.isArray(node)) continue;
    nodes += 1;
    if (depth > bounds.maxDepth) return `the condition nests deeper than ${bounds.maxDepth} levels`;
    if (nodes > bounds.maxNodes) return `the condition has more than ${bounds.maxNodes} nodes`;
    const n = node as Record<string, unknown>;
    for (const key of ['all', 'any'] as const) {
      const children = n[key];
      if (Array.isArray(children)) {
        // An array longer than the node budget cannot fit; stop before pushing millions of entries.
        if (nodes + children.length > bounds.maxNodes) return `the condition has more than ${bounds.maxNodes} nodes`;
        for (const child of children) stack.push({ node: child, depth: depth + 1 });
      }
    }
    if ('not' in n) stack.push({ node: n.not, depth: depth + 1 });
    const exists = n.exists;
    if (exists !== null && typeof exists === 'object' && 'where' in exists) {
      stack.push({ node: (exists as { where: unknown }).where, depth: depth + 1 });
    }
  }
  return undefined;
}

/** A short description of a JSON value's type for messages: `string`, `array`, `null`… */
export function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
