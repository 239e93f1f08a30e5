import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { explainAnswer, explainQuery, previewAnswer, previewBody, runParams, runView } from './targeting.schemas.js';

/**
 * Targeting without a campaign: a segment through an exclusion policy, with the funnel and a
 * control group. Campaigns call the same service.
 */
export const targetingRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { targeting } = container;

  app.post(
    '/v1/targeting/preview',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['exclusions'],
        summary: 'Apply an exclusion policy to a segment: the funnel step by step, then control and target',
        body: previewBody,
        response: { 200: previewAnswer },
      },
    },
    async (request) => {
      const run = await targeting.run(request.body, request.actor);
      return { id: run.id, policy: run.policy, seed: run.seed, funnel: run.funnel, control: run.control, target: run.target, elapsedMs: run.elapsedMs };
    },
  );

  app.get(
    '/v1/targeting/:id',
    {
      config: { access: 'analyst' },
      schema: { tags: ['exclusions'], summary: 'A targeting run: its parameters and funnel', params: runParams, response: { 200: runView } },
    },
    async (request) => targeting.get(request.params.id),
  );

  app.get(
    '/v1/targeting/:id/explain',
    {
      // Operator-only (README): the answer joins a number to lists, reasons and contact history.
      config: { access: 'operator' },
      schema: {
        tags: ['exclusions'],
        summary: 'Why a number is in the target, in the control group, or which step removed it (with the evidence)',
        params: runParams,
        querystring: explainQuery,
        response: { 200: explainAnswer },
      },
    },
    async (request) => targeting.explain(request.params.id, request.query.msisdn, request.actor),
  );
};
