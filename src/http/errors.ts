/**
 * The one registry of errors a client can see. Clients branch on `code`, never on message text.
 * Add a code here before throwing it anywhere.
 */
export const ERRORS = {
  VALIDATION: { status: 400, title: 'Request is not valid' },
  BAD_CONDITION: { status: 400, title: 'Condition is not valid' },
  BAD_FILE: { status: 400, title: 'File is not valid' },
  IMPORT_REJECTED: { status: 422, title: 'Import rejected: the file does not fit the catalog' },
  PATH_FORBIDDEN: { status: 403, title: 'Path is outside the import folder' },
  FILE_NOT_FOUND: { status: 404, title: 'File not found' },
  UNAUTHENTICATED: { status: 401, title: 'Authentication required' },
  FORBIDDEN: { status: 403, title: 'Your role may not do this' },
  CALLBACK_REFUSED: { status: 403, title: 'The callback token does not match the gateway' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  CONFLICT: { status: 409, title: 'Conflict' },
  IN_USE: { status: 409, title: 'Still in use' },
  RULE_CYCLE: { status: 400, title: 'Rule references form a cycle' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  QUERY_TIMEOUT: { status: 503, title: 'Query took too long and was cancelled' },
  BUSY: { status: 503, title: 'Too many queries are running; try again shortly' },
  NOT_READY: { status: 503, title: 'A dependency is not available' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem inside a request or file: where (JSON path or `row 12, column age`) and what. */
export interface FieldProblem {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldProblem[],
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/** `["all", 2, "value"]` → `all[2].value`, the form DESIGN.md promises in error messages. */
export function formatJsonPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
