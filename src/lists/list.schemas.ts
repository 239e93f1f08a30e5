import { z } from 'zod';
import { MAX_NUMBERS_PER_REQUEST } from './list.service.js';

export const LIST_NAME_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;
export const listName = z.string().regex(LIST_NAME_PATTERN, 'a list name is 1–63 characters: a-z, 0-9 and "_", starting with a letter');

export const listParams = z.object({ type: z.string().min(1).max(63).describe('the list name, e.g. blacklist') });
export const entryParams = listParams.extend({ msisdn: z.string().min(1).max(32) });

const listView = z.object({
  name: z.string(),
  kind: z.enum(['system', 'custom']),
  label: z.string(),
  description: z.string().nullable(),
  defaultExpiryDays: z.number().nullable().describe('entries added without expiresAt expire after this many days'),
  entries: z.number().describe('live, unexpired entries'),
  expired: z.number().describe('live entries past their expiry; they match nobody'),
  createdBy: z.string(),
  createdAt: z.string(),
});
export { listView };

export const listsAnswer = z.object({ lists: z.array(listView) });

export const createListBody = z.object({
  name: listName,
  label: z.string().trim().min(1).max(100),
  description: z.string().max(1000).nullable().optional(),
  defaultExpiryDays: z.number().int().positive().max(36_500).nullable().optional(),
});

const expiresAt = z.iso
  .datetime({ offset: true })
  .nullable()
  .optional()
  .describe('ISO 8601 with offset; null: never expires; omitted: the list default');

/** The longest entry `POST /v1/lists/:type/entries` takes (a number with separators or a country code). */
const ENTRY_MAX_CHARS = 32;

/**
 * The body limit of `POST /v1/lists/:type/entries`: the documented 100,000 entries at their longest,
 * each quoted and comma-separated, plus room for the reason and expiry. BODY_LIMIT_BYTES (1 MiB by
 * default) would refuse even 100,000 eleven-digit numbers (1.4 MB).
 */
export const ADD_ENTRIES_BODY_LIMIT = MAX_NUMBERS_PER_REQUEST * (ENTRY_MAX_CHARS + 3) + 64 * 1024;

export const addEntriesBody = z.object({
  msisdns: z.array(z.string().max(ENTRY_MAX_CHARS)).min(1).max(MAX_NUMBERS_PER_REQUEST),
  reason: z.string().trim().min(1).max(500).optional(),
  expiresAt,
});

export const uploadFields = z.object({
  reason: z.string().trim().min(1).max(500).optional(),
  expiresAt,
});

export const addAnswer = z.object({
  list: z.string(),
  numbers: z.number().describe('distinct numbers written'),
  added: z.number(),
  updated: z.number().describe('already on the list: reason and expiry refreshed'),
  revived: z.number().describe('removed earlier, now back on the list'),
  expiresAt: z.string().nullable(),
});

const fileReport = z.object({
  linesRead: z.number(),
  blankLines: z.number(),
  duplicates: z.number(),
  malformed: z.object({ count: z.number(), first: z.array(z.object({ line: z.number(), value: z.string() })) }),
  valid: z.number(),
});

export const uploadAnswer = addAnswer.extend({ file: fileReport });

export const entryView = z.object({
  msisdn: z.string().describe('masked unless the caller is an admin'),
  reason: z.string().nullable(),
  source: z.enum(['api', 'upload', 'reply', 'import']),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
  expiresAt: z.string().nullable(),
  expired: z.boolean(),
});

export const entriesQuery = z.object({
  msisdn: z.string().min(1).max(32).optional().describe('only this number'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
});

export const entriesAnswer = z.object({ list: z.string(), entries: z.array(entryView), nextCursor: z.string().nullable() });

export const removedAnswer = z.object({ list: z.string(), removed: entryView });
