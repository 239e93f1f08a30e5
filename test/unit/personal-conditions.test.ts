import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { ConditionService } from '../../src/conditions/condition.service.js';
import { AppError, type FieldProblem } from '../../src/http/errors.js';
import type { Role } from '../../src/security/roles.js';

const catalog = loadCatalog();

function service(rules: Record<string, unknown> = {}): ConditionService {
  return new ConditionService({
    catalog,
    config: { USAGE_WINDOW_MONTHS: 6, CONDITION_MAX_DEPTH: 12, CONDITION_MAX_NODES: 500 },
    rules: { getCondition: async (name) => rules[name] },
    segments: { status: async () => 'ready' },
    lists: { exists: async () => true },
  });
}

/** `accepted`, or the code and problems `prepare` answers with. */
async function outcome(condition: unknown, role: Role, rules: Record<string, unknown> = {}): Promise<'accepted' | { code: string; errors: FieldProblem[] }> {
  try {
    await service(rules).prepare(condition, 'condition', { role });
    return 'accepted';
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, errors: error.errors ?? [] };
    throw error;
  }
}

const f = (field: string, op: string, value?: unknown) => (value === undefined ? { field, op } : { field, op, value });
const MASKED: Role[] = ['analyst', 'operator', 'scheduler'];

describe('comparisons on personal columns for roles that see them masked', () => {
  // The attack of the issue: a customer id pins one customer, a prefix guesses the hidden digits.
  const revealing: Array<[string, unknown]> = [
    ['a longer msisdn prefix', f('msisdn', 'starts_with', '1591')],
    ['a whole-number-long prefix', f('msisdn', 'starts_with', '15914037193')],
    ['a 2-digit prefix', f('msisdn', 'starts_with', '15')],
    ['msisdn contains', f('msisdn', 'contains', '403')],
    ['msisdn ranges', f('msisdn', 'between', ['15914000000', '15914099999'])],
    ['msisdn gt', f('msisdn', 'gt', '15914037000')],
    ['msisdn lte', f('msisdn', 'lte', '15914037999')],
    ['msisdn eq a partial number', f('msisdn', 'eq', '1591403')],
    ['msisdn ne a partial number', f('msisdn', 'ne', '159')],
    ['msisdn in with one partial value', f('msisdn', 'in', ['15914037193', '1591403'])],
    ['name eq', f('name', 'eq', '罗宏勇')],
    ['name in', f('name', 'in', ['罗宏勇'])],
    ['name starts_with two characters', f('name', 'starts_with', '罗宏')],
    ['name contains', f('name', 'contains', '宏')],
    ['name gt', f('name', 'gt', '罗')],
  ];

  for (const [what, comparison] of revealing) {
    it(`refuses ${what} with 403 and the node's path, for every masked role`, async () => {
      const condition = { all: [f('customer_id', 'eq', 2), comparison] };
      for (const role of MASKED) {
        const answer = await outcome(condition, role);
        expect(answer, role).not.toBe('accepted');
        if (answer === 'accepted') continue;
        expect(answer.code).toBe('FORBIDDEN');
        expect(answer.errors.map((e) => e.path)).toEqual(['condition.all[1]']);
      }
      expect(await outcome(condition, 'admin')).toBe('accepted');
    });
  }

  it('refuses inside not and any, at the nested path', async () => {
    const answer = await outcome({ all: [f('customer_id', 'eq', 2), { not: { any: [f('age', 'gt', 3), f('msisdn', 'starts_with', '1591')] } }] }, 'analyst');
    expect(answer).toMatchObject({ code: 'FORBIDDEN', errors: [{ path: 'condition.all[1].not.any[1]' }] });
  });

  it('refuses through a saved rule, for the caller, whoever saved it, at the reference', async () => {
    const rules = { 'prefix-1591': f('msisdn', 'starts_with', '1591'), wrapper: { any: [{ rule: 'prefix-1591' }] } };
    const direct = await outcome({ all: [f('customer_id', 'eq', 2), { rule: 'prefix-1591' }] }, 'analyst', rules);
    expect(direct).toMatchObject({ code: 'FORBIDDEN', errors: [{ path: 'condition.all[1].rule' }] });
    if (direct !== 'accepted') expect(direct.errors[0]!.message).toContain('prefix-1591');
    const nested = await outcome({ all: [f('customer_id', 'eq', 2), { not: { rule: 'wrapper' } }] }, 'operator', rules);
    expect(nested).toMatchObject({ code: 'FORBIDDEN', errors: [{ path: 'condition.all[1].not.rule' }] });
    expect(await outcome({ all: [f('customer_id', 'eq', 2), { rule: 'wrapper' }] }, 'admin', rules)).toBe('accepted');
  });

  it('reports a condition that is not valid as 400 before asking whether it is allowed', async () => {
    const answer = await outcome({ all: [f('age', 'gt', 'x'), f('msisdn', 'starts_with', '1591')] }, 'analyst');
    expect(answer).toMatchObject({ code: 'BAD_CONDITION', errors: [{ path: 'condition.all[0].value' }] });
  });

  it('allows whole numbers, the 3-digit prefix, the surname and null tests', async () => {
    const allowed = [
      f('msisdn', 'eq', '15914037193'),
      f('msisdn', 'ne', '15914037193'),
      f('msisdn', 'in', ['15914037193', '13800138000']),
      f('msisdn', 'not_in', ['15914037193']),
      f('msisdn', 'starts_with', '159'),
      f('msisdn', 'is_null'),
      f('msisdn', 'not_null'),
      f('name', 'starts_with', '罗'),
      f('name', 'starts_with', '𠮷'),
      f('name', 'is_null'),
      f('name', 'not_null'),
      { not: f('msisdn', 'starts_with', '138') },
    ];
    for (const comparison of allowed) {
      for (const role of MASKED) expect(await outcome({ all: [f('customer_id', 'eq', 2), comparison] }, role), JSON.stringify(comparison)).toBe('accepted');
    }
  });
});
