import { z } from 'zod';
import { ROLES } from './roles.js';

export const keyView = z.object({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(ROLES),
  prefix: z.string().describe('The first characters of the key after `qk_`, to recognise it without revealing it'),
  status: z.enum(['active', 'revoked', 'expired']),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable().describe('Updated at most once a minute'),
});
export type KeyView = z.infer<typeof keyView>;

export const keyName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\p{L}\p{N}_.@:-]+$/u, 'letters, digits and _ . @ : - only');

export const createKeyBody = z.object({
  name: keyName.describe('Who holds the key; shown in the audit log'),
  role: z.enum(ROLES),
  expiresAt: z
    .union([z.iso.datetime({ offset: true }), z.iso.date()])
    .optional()
    .describe('When the key stops working (ISO date or date-time); never by default'),
});

export const createdKeyView = keyView.extend({ key: z.string().describe('The whole key; it is shown only this once') });

export const keyIdParams = z.object({ id: z.uuid() });
