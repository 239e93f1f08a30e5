import type { Condition } from '../../src/conditions/condition.schemas.js';

/**
 * DESIGN.md's condition semantics in plain JS over rows held in memory: the independent answer
 * the compiled SQL of every engine is compared with. Written from the semantics, not from the
 * compiler: nulls never match a comparison, `not` is the complement, `exists` ignores rows
 * without a customer, an aggregate sees only the window's months (count 0 and null avg/sum/min/max
 * for a customer without rows), money sums are exact.
 */
export type OracleRow = Record<string, unknown>;

export interface OracleData {
  /** customers by id; dates as 'YYYY-MM-DD' strings, decimals as numbers. */
  customers: OracleRow[];
  /** Related datasets by name (`subscriptions`, `tags`, `usage_monthly`…), same conventions. */
  related: Record<string, OracleRow[]>;
  /** Resolved list entries. */
  listMembers: Array<{ list_name: string; customer_id: number; expires_at: string | null }>;
  segments: ReadonlyMap<string, ReadonlySet<number>>;
  rules: ReadonlyMap<string, Condition>;
  now: Date;
}

type Scalar = string | number | boolean;
const cents = (v: number) => Math.round(v * 100);

export function holds(v: unknown, op: string, value: unknown): boolean {
  if (op === 'is_null') return v === null || v === undefined;
  if (op === 'not_null') return !(v === null || v === undefined);
  if (v === null || v === undefined) return false;
  const x = v as Scalar;
  switch (op) {
    case 'eq':
      return x === value;
    case 'ne':
      return x !== value;
    case 'lt':
      return x < (value as Scalar);
    case 'lte':
      return x <= (value as Scalar);
    case 'gt':
      return x > (value as Scalar);
    case 'gte':
      return x >= (value as Scalar);
    case 'between': {
      const [lo, hi] = value as Scalar[];
      return x >= lo! && x <= hi!;
    }
    case 'in':
      return (value as Scalar[]).includes(x);
    case 'not_in':
      return !(value as Scalar[]).includes(x);
    case 'starts_with':
      return String(x).startsWith(value as string);
    case 'contains':
      return String(x).includes(value as string);
  }
  throw new Error(`unknown op ${op}`);
}

export class ConditionOracle {
  private readonly months: string[];
  private readonly usageByCustomer = new Map<number, OracleRow[]>();
  private readonly relatedByCustomer = new Map<string, Map<number, OracleRow[]>>();
  readonly ids: number[];

  constructor(private readonly data: OracleData) {
    const usage = data.related.usage_monthly ?? [];
    this.months = [...new Set(usage.map((u) => String(u.month)))].sort().reverse();
    for (const [name, rows] of Object.entries(data.related)) {
      const byCustomer = new Map<number, OracleRow[]>();
      for (const row of rows) {
        if (row.customer_id === null || row.customer_id === undefined) continue;
        const id = Number(row.customer_id);
        byCustomer.set(id, [...(byCustomer.get(id) ?? []), row]);
      }
      this.relatedByCustomer.set(name, byCustomer);
    }
    for (const [id, rows] of this.relatedByCustomer.get('usage_monthly') ?? []) this.usageByCustomer.set(id, rows);
    this.ids = data.customers.map((c) => Number(c.customer_id)).sort((a, b) => a - b);
  }

  /** Ids of the customers matching `condition`, ascending. */
  members(condition: Condition): number[] {
    const byId = new Map(this.data.customers.map((c) => [Number(c.customer_id), c]));
    return this.ids.filter((id) => this.evaluate(condition, id, byId.get(id)!, undefined));
  }

  private windowValue(id: number, fn: string, field: string, lastMonths: number): number | null {
    const months = new Set(this.months.slice(0, lastMonths));
    const rows = (this.usageByCustomer.get(id) ?? []).filter((u) => months.has(String(u.month)));
    const values = rows.map((r) => r[field]).filter((v) => v !== null && v !== undefined);
    if (fn === 'count') return values.length;
    if (values.length === 0) return null;
    const nums = values as number[];
    if (fn === 'min') return Math.min(...nums);
    if (fn === 'max') return Math.max(...nums);
    const total = nums.reduce((a, b) => a + cents(b), 0) / 100;
    return fn === 'sum' ? total : total / nums.length;
  }

  private evaluate(node: Condition, id: number, customer: OracleRow, row: OracleRow | undefined): boolean {
    const n = node as Record<string, any>;
    if (n.all) return n.all.every((c: Condition) => this.evaluate(c, id, customer, row));
    if (n.any) return n.any.some((c: Condition) => this.evaluate(c, id, customer, row));
    if (n.not) return !this.evaluate(n.not, id, customer, row);
    if (n.field) return holds((row ?? customer)[n.field], n.op, n.value);
    if (n.exists) {
      const rows = this.relatedByCustomer.get(n.exists.dataset)?.get(id) ?? [];
      return rows.some((r) => !n.exists.where || this.evaluate(n.exists.where, id, customer, r));
    }
    if (n.aggregate) {
      const a = n.aggregate;
      return holds(this.windowValue(id, a.fn, a.field, a.lastMonths), a.op, a.value);
    }
    if (n.rule) return this.evaluate(this.data.rules.get(n.rule)!, id, customer, undefined);
    if (n.segment) return this.data.segments.get(n.segment)?.has(id) ?? false;
    if (n.list) {
      return this.data.listMembers.some(
        (l) => l.list_name === n.list && l.customer_id === id && (l.expires_at === null || new Date(l.expires_at) > this.data.now),
      );
    }
    throw new Error(`oracle cannot evaluate ${JSON.stringify(node)}`);
  }
}
