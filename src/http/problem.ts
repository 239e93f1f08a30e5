import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { maskDigitsInText } from '../security/mask.js';
import { seesPersonalData, type Actor } from '../security/roles.js';
import { ERRORS, isAppError, type ErrorCode, type FieldProblem } from './errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldProblem[];
  [extra: string]: unknown;
}

function problem(code: ErrorCode, detail: string, errors?: FieldProblem[], extra?: Record<string, unknown>): Problem {
  const { status, title } = ERRORS[code];
  return {
    type: `https://quanke.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    code,
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
    ...extra,
  };
}

/** `/all/2/value` (JSON pointer from the validator) → `all[2].value`. */
export function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .filter((p) => p !== '')
    .reduce((out, part) => (/^\d+$/.test(part) ? `${out}[${part}]` : out === '' ? part : `${out}.${part}`), '');
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Maps any error to problem+json. 5xx details stay in the log, never in the answer. */
export function toProblem(error: unknown): Problem {
  if (isAppError(error)) return problem(error.code, error.message, error.errors, error.extra);
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = (error as { validationContext?: string }).validationContext ?? 'body';
    const errors = error.validation.map((v) => ({ path: pointerToPath(v.instancePath), message: v.message ?? 'invalid' }));
    const first = errors
      .slice(0, 3)
      .map((e) => `${e.path || where}: ${e.message}`)
      .join('; ');
    return problem('VALIDATION', `Invalid ${where}: ${first}`, errors, { in: where });
  }
  const fastifyError = error as Partial<FastifyError>;
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return problem(mapped, fastifyError.message ?? ERRORS[mapped].title);
  if (fastifyError.statusCode === 429) return problem('RATE_LIMITED', fastifyError.message ?? 'Rate limit exceeded');
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    // Malformed JSON, empty bodies and similar parser errors: the message is about the request.
    return { ...problem('VALIDATION', fastifyError.message ?? 'Bad request'), status: fastifyError.statusCode };
  }
  return problem('INTERNAL', 'The server failed to handle this request; it has been logged.');
}

export function sendProblem(reply: FastifyReply, error: unknown, request?: FastifyRequest): FastifyReply {
  const body = toProblem(error);
  if (body.status >= 500 && request) request.log.error({ err: error }, 'request failed');
  // Messages quote values (a rejected cell, a number from the URL): masked unless the caller may
  // see personal data. An unauthenticated caller is no exception.
  const actor: Actor | null | undefined = request?.actor;
  const shown = actor && seesPersonalData(actor.role) ? body : maskedProblem(body);
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(shown);
}

/** The problem with every number in its texts masked by its digits (detail and each message). */
export function maskedProblem(body: Problem): Problem {
  return {
    ...body,
    detail: maskDigitsInText(body.detail),
    ...(body.errors ? { errors: body.errors.map((e) => ({ path: e.path, message: maskDigitsInText(e.message) })) } : {}),
  };
}
