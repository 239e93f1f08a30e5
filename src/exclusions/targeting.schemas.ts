import { z } from 'zod';
import { POLICY_NAME_PATTERN } from './policy.schemas.js';

export const previewBody = z.object({
  segmentId: z.guid('a segment id is a UUID'),
  policy: z.string().regex(POLICY_NAME_PATTERN, 'not a policy name').default('default'),
  productId: z.string().min(1).max(64).nullable().optional().describe('the offered product; the hasProduct step needs it'),
  category: z.string().min(1).max(64).nullable().optional().describe('the campaign category; recentContact sameCategory needs it'),
  controlGroupPercent: z.number().min(0).max(50).default(5),
  seed: z.string().min(1).max(128).optional().describe('draws the same control group again; random when omitted'),
});

const funnelEntry = z.union([
  z.object({ step: z.literal('segment'), remaining: z.number() }),
  z.object({
    step: z.string(),
    index: z.number().describe('1-based step number'),
    type: z.enum(['list', 'recentContact', 'hasProduct', 'condition', 'upload']),
    removed: z.number(),
    remaining: z.number(),
    skipped: z.literal(true).optional(),
    note: z.string().optional(),
    rules: z
      .array(z.object({ name: z.string(), version: z.number() }))
      .optional()
      .describe('the saved rules a condition step used, at the versions its policy version pinned'),
  }),
]);

export const runView = z.object({
  id: z.string(),
  segmentId: z.string(),
  campaignId: z.string().nullable(),
  policy: z.object({ name: z.string(), version: z.number() }),
  productId: z.string().nullable(),
  category: z.string().nullable(),
  controlGroupPercent: z.number(),
  seed: z.string(),
  asOf: z.string(),
  funnel: z.array(funnelEntry),
  control: z.number(),
  target: z.number(),
  createdBy: z.string(),
  createdAt: z.string(),
  elapsedMs: z.number(),
});

export const previewAnswer = runView.pick({ id: true, funnel: true, control: true, target: true, elapsedMs: true }).extend({
  policy: z.object({ name: z.string(), version: z.number() }),
  seed: z.string(),
});

export const runParams = z.object({ id: z.string().min(1).max(64) });
export const explainQuery = z.object({ msisdn: z.string().min(1).max(32) });

const evidence = z.union([
  z.object({
    kind: z.literal('list'),
    list: z.string(),
    reason: z.string().nullable(),
    source: z.string(),
    addedBy: z.string(),
    addedAt: z.string(),
    expiresAt: z.string().nullable(),
    removedAt: z.string().nullable(),
    removedBy: z.string().nullable(),
  }),
  z.object({ kind: z.literal('contact'), days: z.number(), campaignId: z.string(), category: z.string().nullable(), sentAt: z.string() }),
  z.object({ kind: z.literal('subscription'), productId: z.string(), startDate: z.string().nullable(), endDate: z.string().nullable() }),
  z.object({ kind: z.literal('condition'), condition: z.unknown() }),
]);

export const explainAnswer = z.object({
  runId: z.string(),
  msisdn: z.string().describe('masked unless the caller is an admin'),
  customerId: z.number().nullable(),
  outcome: z.enum(['target', 'control', 'excluded', 'not_in_segment', 'not_a_customer']),
  step: z.object({ index: z.number(), name: z.string(), type: z.string() }).nullable(),
  evidence: evidence.nullable(),
  explanation: z.string(),
});
