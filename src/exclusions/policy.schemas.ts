import { z } from 'zod';
import { listName } from '../lists/list.schemas.js';

const label = z.string().trim().min(1).max(100).optional().describe('the step name in the funnel (default: type and parameters)');

const listStep = z.strictObject({ type: z.literal('list'), list: listName, label });
const recentContactStep = z.strictObject({
  type: z.literal('recentContact'),
  days: z.number().int('must be a whole number of days').positive('must be a positive number of days').max(3650),
  sameCategory: z.boolean().default(false).describe('only campaigns of the run\'s category count'),
  label,
});
const hasProductStep = z.strictObject({ type: z.literal('hasProduct'), label });
const conditionStep = z.strictObject({
  type: z.literal('condition'),
  condition: z.unknown().meta({ description: 'A condition of the condition language; matching customers are removed.' }),
  label,
});
const uploadStep = z.strictObject({
  type: z.literal('upload'),
  listId: listName.describe('a custom list, e.g. filled by POST /v1/lists/{type}/upload'),
  label,
});

export const STEP_TYPES = ['list', 'recentContact', 'hasProduct', 'condition', 'upload'] as const;

export const stepSchema = z.discriminatedUnion('type', [listStep, recentContactStep, hasProductStep, conditionStep, uploadStep], {
  error: (issue) =>
    issue.code === 'invalid_union' ? `unknown step type; expected one of ${STEP_TYPES.join(', ')}` : undefined,
});

/** One exclusion step as stored and applied. */
export type PolicyStep = z.infer<typeof stepSchema>;

export const POLICY_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
export const policyParams = z.object({
  name: z.string().regex(POLICY_NAME_PATTERN, 'a policy name is 1–63 characters: a-z, 0-9, "_" and "-", starting with a letter'),
});

export const putPolicyBody = z.object({
  description: z.string().max(1000).nullable().optional(),
  steps: z.array(stepSchema).min(1, 'a policy needs at least one step').max(50),
});

export const policyView = z.object({
  name: z.string(),
  description: z.string().nullable(),
  version: z.number(),
  steps: z.array(z.unknown()),
  rules: z
    .array(z.object({ name: z.string(), version: z.number(), condition: z.unknown() }))
    .describe('the saved rules the condition steps reach, directly or nested, pinned at the version they had when this policy version was saved'),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});

export const policyQuery = z.object({ version: z.coerce.number().int().positive().optional().describe('an earlier version') });

export const policiesAnswer = z.object({
  policies: z.array(policyView.omit({ steps: true }).extend({ steps: z.number().describe('number of steps') })),
});
