import { z } from 'zod';

const id = z.string().trim().min(1).max(64);

/** One order as CRM/BOSS reports it: who (number or customer id), what, when, for how much. */
export const conversionInput = z
  .object({
    orderId: id,
    msisdn: z.string().trim().min(1).max(32).optional(),
    customerId: z.number().int().positive().optional(),
    productId: id,
    orderedAt: z.iso.datetime({ offset: true }).describe('ISO 8601 with a zone, e.g. 2026-11-20T10:00:00+08:00'),
    revenue: z.number().min(0).max(999_999_999_999).optional(),
  })
  .refine((o) => o.msisdn !== undefined || o.customerId !== undefined, {
    message: 'give msisdn or customerId',
    path: ['msisdn'],
  });
export type ConversionInput = z.infer<typeof conversionInput>;

export const conversionsBody = z.array(conversionInput).min(1).max(10_000);

/** What a batch or file of orders did: orders already known (by orderId) are duplicates, never errors. */
export const conversionReport = z.object({
  received: z.number().int(),
  inserted: z.number().int(),
  duplicates: z.number().int(),
  /** The orderIds skipped as already recorded (or repeated in the same batch), first 100. */
  duplicateOrderIds: z.array(z.string()),
  source: z.string(),
});
export type ConversionReport = z.infer<typeof conversionReport>;
