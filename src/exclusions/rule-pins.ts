import type { RuleSource } from '../conditions/condition.service.js';
import { RULE_NAME_PATTERN } from '../conditions/condition.schemas.js';

/** A saved rule as a policy version resolved it when it was saved. */
export interface RulePin {
  name: string;
  version: number;
  condition: unknown;
}

/** The rule library as it is now: version and stored condition by name. */
export interface CurrentRules {
  current(name: string): Promise<{ version: number; condition: unknown } | undefined>;
}

/**
 * A rule source that reads the library as it is now and remembers what it answered, so the rules
 * a policy's steps were checked against are exactly the ones pinned. The first answer for a name
 * holds for every later step of the same save, so two steps cannot see two versions of one rule.
 */
export function pinningRuleSource(rules: CurrentRules): { source: RuleSource; pins(): RulePin[] } {
  const seen = new Map<string, RulePin | undefined>();
  return {
    source: {
      async getCondition(name) {
        if (!seen.has(name)) {
          const rule = RULE_NAME_PATTERN.test(name) ? await rules.current(name) : undefined;
          seen.set(name, rule && { name, version: rule.version, condition: rule.condition });
        }
        return seen.get(name)?.condition;
      },
    },
    pins: () => [...seen.values()].filter((p): p is RulePin => p !== undefined).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/** Rule references resolved against a policy version's pins only; a rule it did not pin does not exist for it. */
export function pinnedRuleSource(pins: readonly RulePin[]): RuleSource {
  const byName = new Map(pins.map((p) => [p.name, p.condition]));
  return { getCondition: async (name) => byName.get(name) };
}
