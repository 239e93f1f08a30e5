import { z } from 'zod';

/**
 * A condition in a request body. The compiler validates it (shape, catalog, rules) and answers
 * BAD_CONDITION naming the JSON path, so the body schema only documents it.
 */
const condition = z.unknown().meta({
  description: 'A condition of the condition language (see the Condition component): all/any/not, field, exists, aggregate, rule, segment, list.',
  examples: [{ all: [{ field: 'arpu', op: 'gte', value: 100 }, { not: { list: 'blacklist' } }] }],
});

export const segmentName = z.string().trim().min(1, 'a name is required').max(200);

export const previewBody = z.object({
  condition,
  breakdown: z
    .array(z.string().min(1).max(64))
    .max(10)
    .optional()
    .describe('customers columns to count by; default city and brand'),
  sampleSize: z.number().int().min(0).max(100).optional().describe('matching customers to show; default 10'),
});

const sampleRow = z.record(z.string(), z.unknown()).describe('a customers row; msisdn masked unless the caller is an admin');

export const previewAnswer = z.object({
  count: z.number(),
  breakdown: z
    .record(z.string(), z.record(z.string(), z.number()))
    .describe('per column, customers per value (top 100; "(null)" for no value, "(other)" for the rest)'),
  sample: z.array(sampleRow),
  elapsedMs: z.number(),
});

export const createBody = z.object({ name: segmentName, condition });

export const uploadFields = z.object({ name: segmentName });

const uploadReport = z.object({
  filename: z.string(),
  linesRead: z.number(),
  blankLines: z.number(),
  duplicates: z.number(),
  malformed: z.object({ count: z.number(), first: z.array(z.object({ line: z.number(), value: z.string() })) }),
  valid: z.number(),
  notInWarehouse: z.object({ count: z.number(), first: z.array(z.string()) }),
});

export const segmentView = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['condition', 'upload']),
  status: z.enum(['building', 'ready', 'failed']),
  count: z.number().nullable(),
  condition: z.unknown(),
  snapshotVersions: z.record(z.string(), z.number()).describe('dataset → warehouse snapshot version the members were computed on'),
  refs: z.object({ rules: z.array(z.string()), segments: z.array(z.string()), lists: z.array(z.string()) }),
  uploadReport: uploadReport.nullable(),
  error: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  refreshedAt: z.string().nullable(),
});

export const segmentIdParams = z.object({ id: z.string().min(1).max(64) });

export const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export const listAnswer = z.object({ segments: z.array(segmentView), nextCursor: z.string().nullable() });

export const membersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
});

export const membersAnswer = z.object({
  members: z.array(
    z.object({
      customer_id: z.number(),
      msisdn: z.string().nullable(),
      name: z.string().nullable(),
      city: z.string().nullable(),
      county: z.string().nullable(),
      grid_id: z.string().nullable(),
      brand: z.string().nullable(),
    }),
  ),
  nextCursor: z.string().nullable(),
});

export const refreshAnswer = z.object({
  segment: segmentView,
  before: z.number(),
  after: z.number(),
  added: z.number(),
  removed: z.number(),
  snapshotVersionsBefore: z.record(z.string(), z.number()),
});
