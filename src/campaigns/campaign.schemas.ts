import { z } from 'zod';

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'HH:MM (00:00–24:00)');

export const smsMessageSchema = z
  .object({
    text: z.string().max(2000),
    signature: z.string().max(40).optional().describe('leads the text, e.g. 【中国移动】; counted in length and parts'),
    optOutSuffix: z.string().max(40).optional().describe('ends the text, e.g. 回T退订; counted in length and parts'),
  })
  .strict();

export const MMS_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif'] as const;
export type MmsImageType = (typeof MMS_IMAGE_TYPES)[number];

/** An MMS campaign's message: a subject and slides, text (placeholders as in SMS) or inline base64 images. */
export const mmsMessageSchema = z
  .object({
    subject: z.string().trim().min(1).max(40).describe('the MMS subject, as written (no placeholders)'),
    parts: z
      .array(
        z.discriminatedUnion('type', [
          z.object({ type: z.literal('text'), text: z.string().max(5000).describe('placeholders such as {name} are rendered per recipient') }).strict(),
          z
            .object({
              type: z.literal('image'),
              contentType: z.enum(MMS_IMAGE_TYPES),
              base64: z.base64().describe('the image bytes, base64-encoded'),
            })
            .strict(),
        ]),
      )
      .min(1)
      .max(20)
      .describe('one slide each, in order; the total size is at most MMS_MAX_BYTES (default 128 KB)'),
  })
  .strict();
export type MmsMessage = z.infer<typeof mmsMessageSchema>;

/** SMS `{text, signature?, optOutSuffix?}` for channel sms, MMS `{subject, parts}` for channel mms. */
export const campaignMessageSchema = z.union([smsMessageSchema, mmsMessageSchema]);

export const scheduleSchema = z
  .object({
    window: z.object({ from: clock, to: clock }).strict().optional().describe('narrows SEND_WINDOW; never widens it'),
  })
  .strict();

export const throttleSchema = z
  .object({ perSecond: z.number().int().min(1).max(100_000).optional().describe('message parts per second for this campaign') })
  .strict();

const campaignFields = {
  name: z.string().trim().min(1).max(200),
  category: z.string().trim().min(1).max(100).nullable().optional().describe('recentContact sameCategory compares it'),
  productId: z.string().trim().min(1).max(100).nullable().optional().describe('the offered product (hasProduct, conversions)'),
  class: z.enum(['marketing', 'notification']),
  segmentId: z.uuid(),
  exclusionPolicy: z.string().min(1).max(100),
  channel: z.enum(['sms', 'mms']),
  message: campaignMessageSchema,
  schedule: scheduleSchema,
  throttle: throttleSchema,
  controlGroupPercent: z.number().min(0).max(50),
  gateway: z.string().min(1).max(63),
};

export const createCampaignBody = z
  .object({
    ...campaignFields,
    class: campaignFields.class.default('marketing'),
    exclusionPolicy: campaignFields.exclusionPolicy.default('default'),
    channel: campaignFields.channel.default('sms'),
    schedule: campaignFields.schedule.default({}),
    throttle: campaignFields.throttle.default({}),
    controlGroupPercent: campaignFields.controlGroupPercent.default(5),
  })
  .strict();
export type CreateCampaignInput = z.infer<typeof createCampaignBody>;

export const updateCampaignBody = z.object(campaignFields).partial().strict();
export type UpdateCampaignInput = z.infer<typeof updateCampaignBody>;

export const campaignStatusSchema = z.enum(['draft', 'targeted', 'approved', 'scheduled', 'sending', 'paused', 'completed', 'cancelled', 'failed']);

export const progressSchema = z.object({
  total: z.number().describe('target recipients (the control group is `control`, never messaged)'),
  control: z.number(),
  queued: z.number(),
  sending: z.number(),
  submitted: z.number(),
  delivered: z.number(),
  failed: z.number(),
  suppressed: z.number().describe('opted out or listed after targeting'),
  capped: z.number().describe('over the per-number daily cap'),
  unknown: z.number().describe('a crash left it sending: never resent blindly'),
  cancelled: z.number(),
  expired: z.number(),
  ratePerSecond: z.number(),
  etaSeconds: z.number().nullable(),
});
export type Progress = z.infer<typeof progressSchema>;

export const campaignView = z.object({
  id: z.string(),
  name: z.string(),
  category: z.string().nullable(),
  productId: z.string().nullable(),
  class: z.enum(['marketing', 'notification']),
  segmentId: z.string(),
  exclusionPolicy: z.string(),
  channel: z.enum(['sms', 'mms']),
  message: campaignMessageSchema,
  schedule: scheduleSchema,
  throttle: throttleSchema,
  controlGroupPercent: z.number(),
  gateway: z.string(),
  status: campaignStatusSchema,
  statusReason: z.string().nullable(),
  targetingRunId: z.string().nullable(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  approvalNote: z.string().nullable(),
  launchedBy: z.string().nullable(),
  launchedAt: z.string().nullable(),
  sendAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
  progress: progressSchema.nullable().describe('from the message ledger once launched'),
});
export type CampaignView = z.infer<typeof campaignView>;

export const launchBody = z
  .object({ at: z.iso.datetime({ offset: true }).optional().describe('a future time schedules the launch; omitted or past: now') })
  .strict()
  .default({});
export const approveBody = z.object({ note: z.string().max(1000).optional() }).strict().default({});
export const renderBody = z
  .object({ customerIds: z.array(z.number().int().positive()).min(1).max(20).optional().describe('default: the first members of the segment') })
  .strict()
  .default({});
export const testSendBody = z.object({ msisdns: z.array(z.string().min(1).max(32)).min(1).max(20) }).strict();

export const renderAnswer = z.object({
  samples: z.array(
    z.object({
      customerId: z.number(),
      text: z.string(),
      encoding: z.enum(['GSM7', 'UCS2']),
      parts: z.number(),
      chars: z.number(),
    }),
  ),
});
