import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import multipart from '@fastify/multipart';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { Container } from './container.js';
import { loggerOptions } from './logger.js';
import { AppError } from './http/errors.js';
import { sendProblem } from './http/problem.js';
import { authPlugin } from './http/plugins/auth.js';
import { healthRoutes } from './health/health.routes.js';
import { catalogRoutes } from './catalog/catalog.routes.js';
import { importRoutes } from './warehouse/import.routes.js';

export interface BuildAppOptions {
  /** Log requests (the server does; tests usually do not). */
  logRequests?: boolean;
}

/** Builds the HTTP app over a container; never listens (server.ts does, tests inject). */
export async function buildApp(container: Container, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = container;
  const app = Fastify({
    logger: options.logRequests === false ? false : loggerOptions(config.LOG_LEVEL),
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((error, request, reply) => sendProblem(reply, error, request));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Quanke 圈客 API', version: '1', description: 'Precision-marketing engine: segments, exclusions, targeting.' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(authPlugin, { db: container.db });
  // Registered once for every upload route; a file over the limit fails the request with 413.
  await app.register(multipart, {
    limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 1, fields: 10 },
    throwFileSizeLimit: true,
  });

  await app.register(healthRoutes, { container });
  await app.register(catalogRoutes, { container });
  await app.register(importRoutes, { container });
  return app;
}
