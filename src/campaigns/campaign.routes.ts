import { Readable } from 'node:stream';
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { explainAnswer, explainQuery, runView } from '../exclusions/targeting.schemas.js';
import { msisdnFor } from '../security/mask.js';
import { ledgerPage } from '../sending/ledger.repository.js';
import { decodeTimeIdCursor, encodeTimeIdCursor } from '../util/cursor.js';
import {
  approveBody,
  campaignStatusSchema,
  campaignView,
  createCampaignBody,
  launchBody,
  renderAnswer,
  renderBody,
  testSendBody,
  updateCampaignBody,
} from './campaign.schemas.js';

const params = z.object({ id: z.string().min(1).max(64) });
const EXPORT_PAGE = 5000;

/** 营销案 routes: thin; the service holds the lifecycle. Roles as DESIGN.md "Campaign" says. */
export const campaignRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { campaigns, db } = container;
  const tags = ['campaigns'];

  app.post(
    '/v1/campaigns',
    { config: { access: 'operator' }, schema: { tags, summary: 'Create a campaign (draft)', body: createCampaignBody, response: { 201: campaignView } } },
    async (request, reply) => reply.code(201).send(await campaigns.create(request.body, request.actor)),
  );

  app.get(
    '/v1/campaigns',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: 'Campaigns, newest first, a page at a time',
        querystring: z.object({
          status: campaignStatusSchema.optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional().describe('`nextCursor` of the previous page'),
        }),
        response: { 200: z.object({ campaigns: z.array(campaignView), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = await campaigns.list({
        ...(status ? { status } : {}),
        ...(cursor ? { after: decodeTimeIdCursor('c', cursor) } : {}),
        limit: limit + 1,
      });
      const shown = page.slice(0, limit);
      const last = shown.at(-1);
      return { campaigns: shown, nextCursor: page.length > limit && last ? encodeTimeIdCursor('c', new Date(last.createdAt), last.id) : null };
    },
  );

  app.get(
    '/v1/campaigns/:id',
    { config: { access: 'analyst' }, schema: { tags, summary: 'A campaign with its send progress', params, response: { 200: campaignView } } },
    async (request) => campaigns.get(request.params.id),
  );

  app.patch(
    '/v1/campaigns/:id',
    {
      config: { access: 'operator' },
      schema: { tags, summary: 'Edit a draft or targeted campaign (drops its targeting)', params, body: updateCampaignBody, response: { 200: campaignView } },
    },
    async (request) => campaigns.update(request.params.id, request.body, request.actor),
  );

  app.delete(
    '/v1/campaigns/:id',
    { config: { access: 'operator' }, schema: { tags, summary: 'Delete a campaign that was never launched', params, response: { 204: z.null() } } },
    async (request, reply) => {
      await campaigns.remove(request.params.id, request.actor);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/campaigns/:id/target',
    {
      config: { access: 'operator' },
      schema: { tags, summary: 'Target: the segment through the exclusion policy, with the funnel and the control group', params, response: { 200: runView } },
    },
    async (request) => campaigns.target(request.params.id, request.actor),
  );

  app.get(
    '/v1/campaigns/:id/funnel',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: "The funnel of the campaign's targeting",
        params,
        response: { 200: runView.pick({ funnel: true, target: true, control: true }).extend({ runId: z.string() }) },
      },
    },
    async (request) => campaigns.funnel(request.params.id),
  );

  app.get(
    '/v1/campaigns/:id/explain',
    {
      config: { access: 'operator' },
      schema: { tags, summary: "Why a number is (not) in the campaign's target", params, querystring: explainQuery, response: { 200: explainAnswer } },
    },
    async (request) => campaigns.explain(request.params.id, request.query.msisdn, request.actor),
  );

  app.post(
    '/v1/campaigns/:id/render',
    {
      config: { access: 'operator' },
      schema: { tags, summary: 'The personalised text for sample customers: encoding, parts, characters', params, body: renderBody, response: { 200: renderAnswer } },
    },
    async (request) => ({ samples: await campaigns.render(request.params.id, request.body.customerIds) }),
  );

  app.post(
    '/v1/campaigns/:id/test',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        summary: 'Send the message to internal numbers (not counted, not in contact history)',
        params,
        body: testSendBody,
        response: {
          200: z.object({
            results: z.array(
              z.object({ msisdn: z.string(), outcome: z.enum(['accepted', 'rejected', 'retryable', 'unknown']), code: z.string().optional(), gatewayMessageIds: z.array(z.string()).optional() }),
            ),
          }),
        },
      },
    },
    async (request) => ({ results: await campaigns.testSend(request.params.id, request.body.msisdns, request.actor) }),
  );

  app.post(
    '/v1/campaigns/:id/approve',
    { config: { access: 'operator' }, schema: { tags, summary: 'Approve (an operator other than the creator)', params, body: approveBody, response: { 200: campaignView } } },
    async (request) => campaigns.approve(request.params.id, request.body.note, request.actor),
  );

  app.post(
    '/v1/campaigns/:id/launch',
    {
      config: { access: 'scheduler' },
      schema: { tags, summary: 'Freeze the target into the message ledger and send now, or at `at`', params, body: launchBody, response: { 200: campaignView } },
    },
    async (request) => campaigns.launch(request.params.id, request.body.at, request.actor),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/v1/campaigns/:id/${action}`,
      { config: { access: 'scheduler' }, schema: { tags, summary: `${action[0]!.toUpperCase()}${action.slice(1)} sending`, params, response: { 200: campaignView } } },
      async (request) => campaigns[action](request.params.id, request.actor),
    );
  }

  app.get(
    '/v1/campaigns/:id/export',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: 'The frozen recipients of a group as CSV (numbers masked unless the role sees them)',
        params,
        querystring: z.object({ group: z.enum(['target', 'control']).default('target') }),
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const campaign = await campaigns.require(request.params.id);
      const { group } = request.query;
      const role = request.actor.role;
      async function* rows() {
        yield 'customer_id,msisdn,group,status,error_code,submitted_at\n';
        let after = -1;
        for (;;) {
          const page = await ledgerPage(db, campaign.id, group, after, EXPORT_PAGE);
          if (page.length === 0) return;
          yield page
            .map((r) => `${r.customer_id},${msisdnFor(role, r.msisdn)},${group},${r.status},${r.error_code ?? ''},${r.submitted_at?.toISOString() ?? ''}\n`)
            .join('');
          after = page.at(-1)!.seq;
        }
      }
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="campaign-${campaign.id}-${group}.csv"`)
        .send(Readable.from(rows()));
    },
  );
};
