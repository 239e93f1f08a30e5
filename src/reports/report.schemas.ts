import { z } from 'zod';

const count = z.number().int();
const money = z.number();
const rate = z.number().nullable().describe('conversions / size; null for an empty group');

export const upliftView = z.object({
  absolute: z.number().nullable().describe('target rate − control rate'),
  relative: z.number().nullable().describe('absolute / control rate'),
  z: z.number().nullable().describe('two-proportion z statistic (pooled standard error)'),
  pValue: z.number().nullable().describe('two-sided'),
  ci95: z.tuple([z.number(), z.number()]).nullable().describe('95 % interval of the difference (unpooled standard error)'),
});

const targetFigures = z.object({
  size: count,
  sent: count.describe('submitted to the gateway'),
  delivered: count,
  failed: count,
  suppressed: count.describe('opted out or listed after targeting'),
  capped: count,
  expired: count,
  unknown: count,
  cancelled: count,
  pending: count.describe('queued, sending, or submitted without a final receipt yet'),
  replies: count.describe('customers who replied'),
  optOuts: count.describe('customers who replied with an opt-out keyword'),
  conversions: count.describe('customers with an attributed order'),
  orders: count,
  conversionRate: rate,
  revenue: money,
});

const controlFigures = z.object({
  size: count,
  conversions: count,
  orders: count,
  conversionRate: rate,
  revenue: money,
});

export const campaignReport = z.object({
  campaign: z.object({
    id: z.string(),
    name: z.string(),
    status: z.string(),
    productId: z.string().nullable(),
    launchedAt: z.string().nullable(),
    sendAt: z.string().nullable(),
  }),
  attributionDays: z.number().int(),
  funnel: z.array(z.object({ step: z.string(), removed: z.number().optional(), remaining: z.number() }).loose()).nullable(),
  target: targetFigures.extend({ failedByError: z.record(z.string(), count) }),
  control: controlFigures,
  uplift: upliftView,
  cost: z
    .object({
      messageCost: money.describe('MESSAGE_COST, per message part'),
      parts: count,
      total: money,
      perConversion: money.nullable(),
      perIncrementalConversion: money.nullable().describe('total / (target conversions − control rate × target size)'),
    })
    .nullable()
    .describe('only when MESSAGE_COST is set'),
  by: z.string().nullable(),
  breakdown: z.array(z.object({ key: z.string().nullable(), target: targetFigures, control: controlFigures, uplift: upliftView })),
  elapsedMs: z.number(),
});
export type CampaignReport = z.infer<typeof campaignReport>;

export const sendGrouping = z.enum(['day', 'gateway', 'error', 'campaign']);

export const sendsReport = z.object({
  from: z.string(),
  to: z.string(),
  by: sendGrouping,
  groups: z.array(
    z.object({
      key: z.string().nullable(),
      label: z.string().nullable(),
      messages: count,
      sent: count,
      delivered: count,
      failed: count,
      expired: count,
      suppressed: count,
      capped: count,
      unknown: count,
      cancelled: count,
      pending: count,
      partsSent: count,
      deliveryRate: rate.describe('delivered / sent'),
    }),
  ),
  elapsedMs: z.number(),
});
export type SendsReport = z.infer<typeof sendsReport>;

export const gridsReport = z.object({
  from: z.string(),
  to: z.string(),
  attributionDays: z.number().int(),
  grids: z.array(
    z.object({
      gridId: z.string().nullable(),
      gridName: z.string().nullable(),
      county: z.string().nullable(),
      city: z.string().nullable(),
      campaigns: count,
      messages: count,
      sent: count,
      delivered: count,
      conversions: count,
      conversionRate: rate,
      revenue: money,
      control: z.object({ size: count, conversions: count, conversionRate: rate }),
      uplift: upliftView.nullable().describe('null where no campaign held out a control group in the grid'),
    }),
  ),
  elapsedMs: z.number(),
});
export type GridsReport = z.infer<typeof gridsReport>;

/** `YYYY-MM-DD` (a local day in SEND_TIMEZONE) or an ISO date-time with its zone. */
export const reportTime = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

export const formatQuery = z.enum(['json', 'csv']).default('json');
