import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../container.js';
import { GatewayService } from './gateway.service.js';
import { gatewayParams, gatewaysAnswer, gatewayView, putGatewayBody } from './gateway.schemas.js';

/** Gateways as data: admins only, since the settings carry credentials (never shown). */
export const gatewayRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const gateways = new GatewayService({ db: container.db, registry: container.gateways });

  app.get(
    '/v1/gateways',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['gateways'],
        summary: "Gateways with their settings (never the password) and this process's connection to each",
        response: { 200: gatewaysAnswer },
      },
    },
    async () => ({ gateways: await gateways.list() }),
  );

  app.get(
    '/v1/gateways/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['gateways'],
        summary: 'One gateway: settings (never the password) and live status (connected, connecting, down; lastError)',
        params: gatewayParams,
        response: { 200: gatewayView },
      },
    },
    async (request) => gateways.get(request.params.name),
  );

  app.put(
    '/v1/gateways/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['gateways'],
        summary: 'Create or replace a gateway; left out, the password is kept. Senders pick the change up within seconds',
        params: gatewayParams,
        body: putGatewayBody,
        response: { 200: gatewayView, 201: gatewayView },
      },
    },
    async (request, reply) => {
      const outcome = await gateways.put(request.params.name, request.body, request.actor);
      return reply.code(outcome.created ? 201 : 200).send(outcome.gateway);
    },
  );

  app.delete(
    '/v1/gateways/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['gateways'],
        summary: 'Delete a gateway; 409 IN_USE naming the scheduled, sending or paused campaigns that use it',
        params: gatewayParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await gateways.delete(request.params.name, request.actor);
      return reply.code(204).send(null);
    },
  );
};
