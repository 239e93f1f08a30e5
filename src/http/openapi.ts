import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES, mayAccess, type Access } from '../security/roles.js';
import { ERRORS, type ErrorCode } from './errors.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

/** The body of every error answer (see problem.ts); registered as the OpenAPI component `Problem`. */
export const problemBody = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]).meta({ description: 'Stable; clients branch on it, never on the text' }),
    detail: z.string(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'Each problem with its JSON path (`condition.all[2].value`) or file position (`row 12, column age`)' }),
  })
  .meta({ id: 'Problem', description: 'application/problem+json (RFC 9457) with a stable `code`' });

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const CHANGING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The error statuses a route can answer, from what the route is: any keyed route can be refused
 * (401, 403), limited (429) or find a dependency down (503); input can be invalid (400); a path
 * naming an object can miss (404); a POST, PUT, PATCH or DELETE can conflict (409; read-only
 * POSTs such as previews are documented with it too); a body can be too large (413);
 * a POST can carry a file the catalog refuses (422).
 */
function errorStatuses(method: string, url: string, access: Access, schema: FastifySchema | undefined): number[] {
  const statuses = new Set<number>();
  const keyed = access !== 'public';
  if (keyed) [401, 403, 429, 503].forEach((s) => statuses.add(s));
  if (schema?.body || schema?.querystring || schema?.params || url.includes(':') || BODY_METHODS.has(method)) statuses.add(400);
  if (url.includes(':')) statuses.add(404);
  if (keyed && CHANGING_METHODS.has(method)) statuses.add(409);
  if (BODY_METHODS.has(method)) statuses.add(413);
  if (keyed && method === 'POST') statuses.add(422);
  return [...statuses].sort((a, b) => a - b);
}

/** `400` → "VALIDATION, BAD_CONDITION, …: Request is not valid; …", from the one error registry. */
function problemResponse(status: number): { description: string; content: Record<string, { schema: { $ref: string } }> } {
  const codes = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].status === status);
  return {
    description: codes.map((code) => `\`${code}\`: ${ERRORS[code].title}`).join('; '),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

function roleSentence(access: Access, loopbackWithoutKey: boolean): string {
  if (access === 'public') return 'Public: no key needed.';
  const roles = ROLES.filter((role) => mayAccess(role, access));
  const base = `Needs a key with the \`${access}\` role (allowed: ${roles.join(', ')}).`;
  return loopbackWithoutKey ? `${base} Callers on this machine (loopback) need no key.` : base;
}

/**
 * The swagger `transform`: the zod schemas as JSON Schema, then, for every route in one place,
 * its problem+json error answers, the role it needs (`x-required-role`, the description) and,
 * for public routes, `security: []` so the document does not ask for a key there.
 */
export const documentRoute: SwaggerTransform = (document) => {
  const transformed = jsonSchemaTransform(document as Parameters<typeof jsonSchemaTransform>[0]);
  const { route } = document;
  const schema = { ...(transformed.schema ?? {}) } as FastifySchema & Record<string, unknown>;
  if (schema.hide) return transformed;
  const access = route.config?.access ?? 'public';
  const loopback = route.config?.loopbackWithoutKey === true;
  const method = [route.method].flat()[0]!.toString().toUpperCase();
  const response = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) };
  // Swagger documents a bare 200 only when a route declares no responses at all; keep it so.
  if (!Object.keys(response).some((status) => status.startsWith('2'))) response['200'] = { description: 'Success' };
  for (const status of errorStatuses(method, transformed.url, access, document.schema)) {
    response[status] ??= problemResponse(status);
  }
  schema.response = response;
  schema['x-required-role'] = access;
  schema.description = [schema.description, roleSentence(access, loopback)].filter(Boolean).join('\n\n');
  if (access === 'public') schema.security = [];
  // An empty requirement makes the key optional: from loopback none is needed.
  else if (loopback) schema.security = [{}, { apiKey: [] }];
  return { schema, url: transformed.url };
};
