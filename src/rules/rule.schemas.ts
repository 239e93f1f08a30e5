import { z } from 'zod';
import { conditionNodeSchema, ruleNameSchema } from '../conditions/condition.schemas.js';

export const ruleParams = z.object({ name: ruleNameSchema });

export const ruleQuery = z.object({
  history: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .describe('also return every version, newest first'),
});

/**
 * The condition is taken as any JSON here: `ConditionService.prepare` validates shape, catalog and
 * references together and answers BAD_CONDITION / RULE_CYCLE naming each JSON path.
 */
export const ruleBody = z.strictObject({
  description: z.string().max(2000).default('').describe('what the rule selects, for the next analyst'),
  condition: z.unknown().meta({
    description: 'A Condition (see the Condition component); may reference other rules with {"rule": name}.',
    examples: [{ all: [{ field: 'arpu', op: 'gte', value: 150 }, { field: 'data_mb', op: 'lt', value: 1024 }] }],
  }),
});

const references = z.object({ rules: z.array(z.string()), segments: z.array(z.string()), lists: z.array(z.string()) });

export const ruleVersionView = z.object({
  version: z.number().int(),
  change: z.enum(['create', 'update', 'delete']),
  source: z.enum(['library', 'api']),
  description: z.string(),
  condition: conditionNodeSchema,
  changedBy: z.string(),
  changedAt: z.string(),
});

export const ruleView = z.object({
  name: z.string(),
  description: z.string(),
  condition: conditionNodeSchema,
  version: z.number().int(),
  source: z.enum(['library', 'api']).describe('library: as shipped in rules/; api: created or edited through the API'),
  references: references.describe('what the rule names directly'),
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});

export const ruleAnswer = ruleView.extend({ history: z.array(ruleVersionView).optional() });
export const ruleListAnswer = z.object({ rules: z.array(ruleView) });
export const ruleVersionsAnswer = z.object({ name: z.string(), versions: z.array(ruleVersionView) });
