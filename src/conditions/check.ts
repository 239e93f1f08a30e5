import type { z } from 'zod';
import type { Catalog, Column, Dataset, PersonalKind } from '../catalog/catalog.js';
import { formatJsonPath, type FieldProblem } from '../http/errors.js';
import { assertNever } from '../util/assert-never.js';
import {
  NODE_KINDS,
  conditionBoundsProblem,
  conditionNodeSchema,
  describeJson,
  kindOf,
  type AggregateCondition,
  type Condition,
  type ConditionBounds,
  type FieldCondition,
  type Op,
  type Scalar,
  type Value,
} from './condition.schemas.js';

/** Largest `in` / `not_in` list; beyond it a segment built from a file is the right tool. */
export const MAX_IN_VALUES = 10_000;
/** The one dataset with monthly windows (`usage_months` ranks its months). */
export const WINDOW_DATASET = 'usage_monthly';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
/** Per `in` list, so one bad 10,000-item list does not bury every other problem. */
const MAX_PROBLEMS_PER_LIST = 5;

/** Where a reference appears, as a JSON path. */
export interface RefSite {
  name: string;
  path: string;
  /** The rule whose condition holds the reference, when it was reached through one. */
  via?: string;
}

export interface ConditionRefs {
  rules: RefSite[];
  segments: RefSite[];
  lists: RefSite[];
}

/** `condition` + `all[2].value` → `condition.all[2].value`; either side may be empty. */
export function joinPath(base: string, rest: string): string {
  if (rest === '') return base;
  if (base === '') return rest;
  return rest.startsWith('[') ? `${base}${rest}` : `${base}.${rest}`;
}

/**
 * Shape validation: bounds first (iteratively, so absurd nesting costs linear time), then zod.
 * Problems carry JSON paths under `path`.
 */
export function parseCondition(
  input: unknown,
  bounds: ConditionBounds,
  path: string,
): { condition: Condition; problems?: undefined } | { condition?: undefined; problems: FieldProblem[] } {
  const boundsProblem = conditionBoundsProblem(input, bounds);
  if (boundsProblem) return { problems: [{ path, message: boundsProblem }] };
  if (input === undefined) return { problems: [{ path, message: 'a condition is required' }] };
  const result = conditionNodeSchema.safeParse(input);
  if (result.success) return { condition: result.data };
  return { problems: zodProblems(result.error.issues, input, path) };
}

/**
 * zod's issues as path + message. A node that fits no union branch is reported through the
 * branch its key names (`all[2].op: Invalid option…`), not as "Invalid input" on the node.
 */
function zodProblems(issues: readonly z.core.$ZodIssue[], root: unknown, base: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of issues) {
    const here = joinPath(base, formatJsonPath(issue.path));
    if (issue.code === 'invalid_union') {
      const node = valueAt(root, issue.path);
      const branch = branchIndex(node);
      const branchIssues = branch === undefined ? undefined : issue.errors[branch];
      if (branchIssues && branchIssues.length > 0) {
        out.push(...zodProblems(branchIssues, node, here));
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      out.push({ path: here, message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` });
      continue;
    }
    out.push({ path: here, message: issue.message });
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function branchIndex(node: unknown): number | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const kinds = Object.keys(node).filter((k) => (NODE_KINDS as readonly string[]).includes(k));
  if (kinds.length !== 1) return undefined;
  return NODE_KINDS.indexOf(kinds[0] as (typeof NODE_KINDS)[number]);
}

export interface CheckOptions {
  /**
   * Whether the caller sees personal columns whole. When not, comparisons on them that could reveal
   * what the mask hides are collected as `forbidden`.
   */
  seesPersonalData: boolean;
}

export interface CheckOutcome {
  /** The condition is not valid (400). */
  problems: FieldProblem[];
  /** The condition is valid but compares personal data further than the caller may see it (403). */
  forbidden: FieldProblem[];
  refs: ConditionRefs;
}

/**
 * Checks a shape-valid condition against the catalog and collects the rule, segment and list
 * references it makes directly. Every problem is collected; none stops the walk.
 */
export function checkCondition(condition: Condition, catalog: Catalog, path: string, options: CheckOptions): CheckOutcome {
  const checker = new Checker(catalog, options);
  checker.visit(condition, path, undefined);
  return { problems: checker.problems, forbidden: checker.forbidden, refs: checker.refs };
}

class Checker {
  readonly problems: FieldProblem[] = [];
  readonly forbidden: FieldProblem[] = [];
  readonly refs: ConditionRefs = { rules: [], segments: [], lists: [] };
  private readonly customers: Dataset;

  constructor(
    private readonly catalog: Catalog,
    private readonly options: CheckOptions,
  ) {
    this.customers = catalog.dataset('customers')!;
  }

  private problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  /** `inside` is the dataset of an enclosing `exists` (fields then name its columns). */
  visit(node: Condition, path: string, inside: Dataset | undefined): void {
    const kind = kindOf(node);
    if (inside && !['all', 'any', 'not', 'field'].includes(kind)) {
      this.problem(path, `only field, all, any and not may appear inside exists.where; got ${kind}`);
      return;
    }
    switch (kind) {
      case 'all':
        (node as { all: Condition[] }).all.forEach((child, i) => this.visit(child, joinPath(path, `all[${i}]`), inside));
        return;
      case 'any':
        (node as { any: Condition[] }).any.forEach((child, i) => this.visit(child, joinPath(path, `any[${i}]`), inside));
        return;
      case 'not':
        this.visit((node as { not: Condition }).not, joinPath(path, `not`), inside);
        return;
      case 'field':
        this.field(node as FieldCondition, path, inside ?? this.customers);
        return;
      case 'exists':
        this.exists(node as { exists: { dataset: string; where?: Condition } }, path);
        return;
      case 'aggregate':
        this.aggregate(node as AggregateCondition, joinPath(path, `aggregate`));
        return;
      case 'rule':
        this.refs.rules.push({ name: (node as { rule: string }).rule, path: joinPath(path, `rule`) });
        return;
      case 'segment':
        this.refs.segments.push({ name: (node as { segment: string }).segment.toLowerCase(), path: joinPath(path, `segment`) });
        return;
      case 'list':
        this.refs.lists.push({ name: (node as { list: string }).list, path: joinPath(path, `list`) });
        return;
    }
  }

  private column(dataset: Dataset, name: string, path: string): Column | undefined {
    const column = dataset.columns.find((c) => c.name === name);
    if (!column) {
      const known = dataset.columns.map((c) => c.name).join(', ');
      this.problem(path, `unknown field ${JSON.stringify(name)} of ${dataset.name}; known fields: ${known}`);
    }
    return column;
  }

  private field(node: FieldCondition, path: string, dataset: Dataset): void {
    const column = this.column(dataset, node.field, joinPath(path, `field`));
    if (!column) return;
    const label = `${dataset.name}.${column.name}`;
    this.comparison(node.op, node.value, path, { kind: column.type, label, values: column.values });
    if (column.personal && !this.options.seesPersonalData) {
      const refusal = personalComparisonRefusal(column.personal, node.op, node.value);
      if (refusal) this.forbidden.push({ path, message: `${label} is masked for your role: ${refusal}` });
    }
  }

  private exists(node: { exists: { dataset: string; where?: Condition } }, path: string): void {
    const related = this.catalog.relatedToCustomers();
    const dataset = related.find((d) => d.name === node.exists.dataset);
    if (!dataset) {
      this.problem(
        joinPath(path, `exists.dataset`),
        `unknown or unrelated dataset ${JSON.stringify(node.exists.dataset)}; exists may use: ${related.map((d) => d.name).join(', ')}`,
      );
      return;
    }
    if (node.exists.where) this.visit(node.exists.where, joinPath(path, `exists.where`), dataset);
  }

  private aggregate(node: AggregateCondition, path: string): void {
    const { dataset: name, fn, field, op, value } = node.aggregate;
    const dataset = this.catalog.dataset(name);
    if (name !== WINDOW_DATASET || !dataset) {
      this.problem(joinPath(path, `dataset`), `aggregate windows are over ${WINDOW_DATASET}; got ${JSON.stringify(name)}`);
      return;
    }
    const column = this.column(dataset, field, joinPath(path, `field`));
    if (!column) return;
    if (column.personal && fn !== 'count' && !this.options.seesPersonalData) {
      this.forbidden.push({ path, message: `${name}.${field} is masked for your role: ${fn} over it could reveal what the mask hides` });
    }
    const numeric = column.type === 'integer' || column.type === 'bigint' || column.type === 'decimal';
    if (fn !== 'count' && !numeric) {
      this.problem(joinPath(path, `field`), `${fn} needs a numeric field; ${name}.${field} is ${column.type}`);
      return;
    }
    if (op === 'is_null' || op === 'not_null' || op === 'starts_with' || op === 'contains') {
      this.problem(joinPath(path, `op`), `${op} does not apply to an aggregate (use count for months with data)`);
      return;
    }
    this.comparison(op, value, path, { kind: fn === 'count' ? 'bigint' : 'decimal', label: `${fn}(${field})` });
  }

  /** Operator arity and value types, for a field or an aggregate result. */
  private comparison(op: Op, value: Value | undefined, path: string, target: ValueTarget): void {
    const at = joinPath(path, `value`);
    if (op === 'is_null' || op === 'not_null') {
      if (value !== undefined) this.problem(at, `${op} takes no value`);
      return;
    }
    if (value === undefined) {
      this.problem(at, `${op} needs a value`);
      return;
    }
    if (op === 'starts_with' || op === 'contains') {
      if (target.kind !== 'varchar') this.problem(joinPath(path, `op`), `${op} applies to text fields only; ${target.label} is ${target.kind}`);
      else if (typeof value !== 'string') this.problem(at, `expected string, got ${describeJson(value)}`);
      return;
    }
    if (target.kind === 'boolean' && !['eq', 'ne', 'in', 'not_in'].includes(op)) {
      this.problem(joinPath(path, `op`), `${op} does not apply to the boolean field ${target.label}; use eq, ne, in or not_in`);
      return;
    }
    if (op === 'between') {
      if (!Array.isArray(value) || value.length !== 2) {
        this.problem(at, `between needs [low, high], got ${Array.isArray(value) ? `${value.length} values` : describeJson(value)}`);
        return;
      }
      const lo = this.scalar(value[0]!, `${at}[0]`, target, false);
      const hi = this.scalar(value[1]!, `${at}[1]`, target, false);
      if (lo && hi && value[0]! > value[1]!) this.problem(at, `between needs low ≤ high, got [${JSON.stringify(value[0])}, ${JSON.stringify(value[1])}]`);
      return;
    }
    if (op === 'in' || op === 'not_in') {
      if (!Array.isArray(value)) {
        this.problem(at, `${op} needs an array of values, got ${describeJson(value)}`);
        return;
      }
      if (value.length === 0) this.problem(at, `${op} needs at least one value`);
      else if (value.length > MAX_IN_VALUES) this.problem(at, `${op} takes at most ${MAX_IN_VALUES} values, got ${value.length}`);
      else {
        const before = this.problems.length;
        for (let i = 0; i < value.length && this.problems.length - before < MAX_PROBLEMS_PER_LIST; i++) {
          this.scalar(value[i]!, `${at}[${i}]`, target, true);
        }
      }
      return;
    }
    if (Array.isArray(value)) {
      this.problem(at, `${op} needs a single value, got array`);
      return;
    }
    this.scalar(value, at, target, op === 'eq' || op === 'ne');
  }

  /** True when the value fits the target type. */
  private scalar(value: Scalar, path: string, target: ValueTarget, checkCodes: boolean): boolean {
    const message = scalarProblem(value, target, checkCodes);
    if (message) this.problem(path, message);
    return message === undefined;
  }
}

/** A whole mainland mobile number: comparing with one reveals nothing the caller did not know. */
const WHOLE_MSISDN = /^[0-9]{11}$/;
/** The 号段 (network prefix), the part of a number its mask shows anyway. */
const MSISDN_PREFIX = /^[0-9]{3}$/;

/**
 * Why comparing a personal column this way could reveal what its mask hides (`159****7193`,
 * `张**`), or undefined when it cannot: a phone number only as a whole number or by its 3-digit
 * prefix, a name only by its first character (the surname); either by being null or not.
 * Anything narrower (a longer prefix, a range, `contains`, a partial value) lets a few counts
 * combined with a customer id recover the hidden part.
 */
export function personalComparisonRefusal(kind: PersonalKind, op: Op, value: Value | undefined): string | undefined {
  if (op === 'is_null' || op === 'not_null') return undefined;
  switch (kind) {
    case 'msisdn': {
      const allowed = 'compare it only with whole 11-digit numbers (eq, ne, in, not_in), a 3-digit prefix (starts_with), or is_null/not_null';
      const whole = (v: unknown) => typeof v === 'string' && WHOLE_MSISDN.test(v);
      switch (op) {
        case 'eq':
        case 'ne':
          return whole(value) ? undefined : `${op} with anything but a whole number could reveal the masked digits; ${allowed}`;
        case 'in':
        case 'not_in':
          return Array.isArray(value) && value.every(whole) ? undefined : `${op} with anything but whole numbers could reveal the masked digits; ${allowed}`;
        case 'starts_with':
          return typeof value === 'string' && MSISDN_PREFIX.test(value)
            ? undefined
            : `starts_with longer or shorter than the 3-digit prefix could reveal the masked digits; ${allowed}`;
        default:
          return `${op} could reveal the masked digits; ${allowed}`;
      }
    }
    case 'name': {
      const allowed = 'compare it only by its first character (starts_with one character, the surname), or is_null/not_null';
      if (op === 'starts_with' && typeof value === 'string' && [...value].length === 1) return undefined;
      return `${op}${op === 'starts_with' ? ' with more than one character' : ''} could reveal the masked characters; ${allowed}`;
    }
    default:
      return assertNever(kind);
  }
}

interface ValueTarget {
  kind: Column['type'];
  /** For messages: `customers.age`, `avg(data_mb)`. */
  label: string;
  /** The allowed codes of a code column (gender, brand, status). */
  values?: readonly string[];
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date in `YYYY-MM-DD` form (no 2023-02-29). */
export function isIsoDate(value: string): boolean {
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function scalarProblem(value: Scalar, target: ValueTarget, checkCodes: boolean): string | undefined {
  switch (target.kind) {
    case 'bigint':
      if (typeof value !== 'number') return `expected number, got ${describeJson(value)}`;
      if (!Number.isSafeInteger(value)) return `expected a whole number, got ${value}`;
      return undefined;
    case 'integer':
      if (typeof value !== 'number') return `expected number, got ${describeJson(value)}`;
      if (!Number.isInteger(value)) return `expected a whole number, got ${value}`;
      if (value < INT32_MIN || value > INT32_MAX) return `expected a 32-bit whole number, got ${value}`;
      return undefined;
    case 'decimal':
      if (typeof value !== 'number') return `expected number, got ${describeJson(value)}`;
      return undefined;
    case 'varchar':
      if (typeof value !== 'string') return `expected string, got ${describeJson(value)}`;
      if (checkCodes && target.values && !target.values.includes(value)) {
        return `${target.label} is one of ${target.values.join(', ')}; got ${JSON.stringify(value)}`;
      }
      return undefined;
    case 'boolean':
      if (typeof value !== 'boolean') return `expected boolean, got ${describeJson(value)}`;
      return undefined;
    case 'date':
      if (typeof value !== 'string') return `expected a date string YYYY-MM-DD, got ${describeJson(value)}`;
      if (!isIsoDate(value)) return `expected a real date as YYYY-MM-DD, got ${JSON.stringify(value)}`;
      return undefined;
  }
}


/** The rule, segment and list names a condition names itself (rules not followed), each once. */
export function directReferences(condition: Condition): { rules: string[]; segments: string[]; lists: string[] } {
  const rules = new Set<string>();
  const segments = new Set<string>();
  const lists = new Set<string>();
  const walk = (node: Condition): void => {
    switch (kindOf(node)) {
      case 'all':
        (node as { all: Condition[] }).all.forEach(walk);
        return;
      case 'any':
        (node as { any: Condition[] }).any.forEach(walk);
        return;
      case 'not':
        walk((node as { not: Condition }).not);
        return;
      case 'rule':
        rules.add((node as { rule: string }).rule);
        return;
      case 'segment':
        segments.add((node as { segment: string }).segment.toLowerCase());
        return;
      case 'list':
        lists.add((node as { list: string }).list);
        return;
      default:
        return;
    }
  };
  walk(condition);
  return { rules: [...rules], segments: [...segments], lists: [...lists] };
}
