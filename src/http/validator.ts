import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler as zodValidatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { withStorableText } from './storable-text.js';

/**
 * The zod validator of every route's params, querystring and body, each schema wrapped so that
 * text Postgres cannot store is refused first (400 naming the JSON path), whatever the route.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) =>
  zodValidatorCompiler({ ...route, schema: route.schema instanceof z.ZodType ? withStorableText(route.schema) : route.schema });
