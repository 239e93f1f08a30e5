import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import multipart from '@fastify/multipart';
import { jsonSchemaTransformObject, serializerCompiler } from 'fastify-type-provider-zod';
import type { DestinationStream } from 'pino';
import type { Container } from './container.js';
import { loggerOptions } from './logger.js';
import { AppError } from './http/errors.js';
import { sendProblem } from './http/problem.js';
import { documentRoute } from './http/openapi.js';
import { validatorCompiler } from './http/validator.js';
import { authPlugin } from './http/plugins/auth.js';
import { securityPlugin } from './http/plugins/security.js';
import { requestIdFor } from './http/plugins/request-id.js';
import { metricsPlugin } from './ops/metrics.routes.js';
import { queueDashboard } from './ops/queue-dashboard.js';
import { keyRoutes } from './security/key.routes.js';
import { auditRoutes } from './security/audit.routes.js';
import { healthRoutes } from './health/health.routes.js';
import { catalogRoutes } from './catalog/catalog.routes.js';
import { importRoutes } from './warehouse/import.routes.js';
import { segmentRoutes } from './segments/segment.routes.js';
import { ruleRoutes } from './rules/rule.routes.js';
import { listRoutes } from './lists/list.routes.js';
import { policyRoutes } from './exclusions/policy.routes.js';
import { targetingRoutes } from './exclusions/targeting.routes.js';
import { gatewayRoutes } from './gateways/gateway.routes.js';
import { campaignRoutes } from './campaigns/campaign.routes.js';
import { mm7Routes } from './gateways/mm7/mm7.routes.js';
import { conversionRoutes } from './feedback/conversion.routes.js';
import { reportRoutes } from './reports/report.routes.js';
import { feedbackRoutes } from './feedback/feedback.routes.js';
import { kannelRoutes } from './gateways/kannel/kannel.routes.js';
import { consoleRoutes } from './console/console.routes.js';

export interface BuildAppOptions {
  /** Log requests (the server does; tests usually do not). */
  logRequests?: boolean;
  /** Where request logs go instead of stdout (the log-scrubbing test reads them). */
  logStream?: DestinationStream;
  /** Serve the built web console from this folder at `/` (server.ts does; most tests do not). */
  consoleDir?: string;
}

/** Builds the HTTP app over a container; never listens (server.ts does, tests inject). */
export async function buildApp(container: Container, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = container;
  const app = Fastify({
    logger:
      options.logRequests === false
        ? false
        : { ...loggerOptions(config.LOG_LEVEL), ...(options.logStream ? { stream: options.logStream } : {}) },
    bodyLimit: config.BODY_LIMIT_BYTES,
    // genReqId reads and vets x-request-id itself; fastify would take any header value verbatim.
    requestIdHeader: false,
    genReqId: requestIdFor,
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
    // The zod schemas as JSON Schema, plus every route's error answers and role, in one place.
    transform: documentRoute,
    // Emits schemas registered with an id (e.g. Condition) as components the routes $ref.
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(securityPlugin, { config });
  await app.register(authPlugin, {
    db: container.db,
    failuresPerMinute: config.AUTH_FAILURES_PER_MINUTE,
    onFailure: (reason) => container.metrics.authFailures.inc({ reason }),
  });
  await app.register(metricsPlugin, { metrics: container.metrics });
  // Registered once for every upload route; a file over the limit fails the request with 413.
  // Two files, not one: the upload routes want one, and must see the second to refuse it by name.
  await app.register(multipart, {
    limits: { fileSize: config.UPLOAD_MAX_BYTES, files: 2, fields: 10 },
    throwFileSizeLimit: true,
  });

  await app.register(healthRoutes, { container });
  await app.register(catalogRoutes, { container });
  await app.register(keyRoutes, { container });
  await app.register(auditRoutes, { container });
  await app.register(queueDashboard, { container });
  await app.register(importRoutes, { container });
  await app.register(segmentRoutes, { container });
  await app.register(ruleRoutes, { container });
  await app.register(listRoutes, { container });
  await app.register(policyRoutes, { container });
  await app.register(targetingRoutes, { container });
  await app.register(gatewayRoutes, { container });
  await app.register(campaignRoutes, { container });
  await app.register(mm7Routes, { container });
  await app.register(conversionRoutes, { container });
  await app.register(reportRoutes, { container });
  await app.register(feedbackRoutes, { container });
  await app.register(kannelRoutes, { container });
  if (options.consoleDir) await app.register(consoleRoutes, { root: options.consoleDir });
  return app;
}
