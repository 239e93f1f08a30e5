import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { policiesAnswer, policyParams, policyQuery, policyView, putPolicyBody } from './policy.schemas.js';

/** Exclusion policies: analysts read them, operators change them (each change a new version, audited). */
export const policyRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { policies } = container;

  app.get(
    '/v1/exclusion-policies',
    {
      config: { access: 'analyst' },
      schema: { tags: ['exclusions'], summary: 'Exclusion policies at their current versions', response: { 200: policiesAnswer } },
    },
    async () => ({ policies: await policies.list() }),
  );

  app.get(
    '/v1/exclusion-policies/:name',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['exclusions'],
        summary: 'One exclusion policy: its ordered steps (current version, or ?version=)',
        params: policyParams,
        querystring: policyQuery,
        response: { 200: policyView },
      },
    },
    async (request) => policies.get(request.params.name, request.query.version),
  );

  app.put(
    '/v1/exclusion-policies/:name',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['exclusions'],
        summary: 'Create or change a policy; a change writes a new version (an identical body changes nothing)',
        params: policyParams,
        body: putPolicyBody,
        response: { 200: policyView, 201: policyView },
      },
    },
    async (request, reply) => {
      const outcome = await policies.put(request.params.name, request.body, request.actor);
      return reply.code(outcome.created ? 201 : 200).send(outcome.policy);
    },
  );
};
