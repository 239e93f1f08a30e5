import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { ruleAnswer, ruleBody, ruleListAnswer, ruleParams, ruleQuery, ruleVersionsAnswer, ruleView } from './rule.schemas.js';

/**
 * 规则积累. Rules are analysts' work: they read and write them; deleting one, which can break
 * what others built on it, is for operators.
 */
export const ruleRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { rules } = container;

  app.get(
    '/v1/rules',
    {
      config: { access: 'analyst' },
      schema: { tags: ['rules'], summary: 'Every saved rule, by name', response: { 200: ruleListAnswer } },
    },
    async () => ({ rules: await rules.list() }),
  );

  app.get(
    '/v1/rules/:name',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['rules'],
        summary: 'One saved rule; with ?history=true also every version',
        params: ruleParams,
        querystring: ruleQuery,
        response: { 200: ruleAnswer },
      },
    },
    async (request) => {
      const rule = await rules.get(request.params.name);
      return request.query.history ? { ...rule, history: await rules.versions(rule.name) } : rule;
    },
  );

  app.get(
    '/v1/rules/:name/versions',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['rules'],
        summary: 'Every version of a rule with who changed it and when, newest first (also after deletion)',
        params: ruleParams,
        response: { 200: ruleVersionsAnswer },
      },
    },
    async (request) => ({ name: request.params.name, versions: await rules.versions(request.params.name) }),
  );

  app.put(
    '/v1/rules/:name',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['rules'],
        summary: 'Create a rule or write its next version (unchanged definitions write nothing); cycles are rejected',
        params: ruleParams,
        body: ruleBody,
        response: { 200: ruleView, 201: ruleView },
      },
    },
    async (request, reply) => {
      const outcome = await rules.put(request.params.name, request.body, request.actor);
      return reply.code(outcome.created ? 201 : 200).send(outcome.rule);
    },
  );

  app.delete(
    '/v1/rules/:name',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['rules'],
        summary: 'Delete a rule; 409 IN_USE naming the rules and segments that still use it',
        params: ruleParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await rules.delete(request.params.name, request.actor);
      return reply.code(204).send(null);
    },
  );
};
