import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { AppError, ERRORS, type ErrorCode, type FieldProblem } from '../http/errors.js';
import { DEFAULT_ADMIN_KEY_FILE } from '../security/bootstrap.js';

/**
 * The API serving on the configured address, as a warehouse CLI command uses it: only that process
 * may open the DuckDB file, so while it runs, `import` and `segment preview` go through it.
 */
export interface RunningApi {
  baseUrl: string;
  json<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<T>;
  /** Streams a local file as the multipart field `file` (never read whole into memory). */
  upload<T>(route: string, filePath: string): Promise<T>;
}

/** Where the CLI looks for the API: the configured address, with a wildcard host reached on loopback. */
export function apiBaseUrl(config: Pick<Config, 'HOST' | 'PORT'>): string {
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
}

/** `QUANKE_API_KEY`, else the bootstrap key file `npm start` wrote. */
function adminKey(env: Record<string, string | undefined>): string | undefined {
  if (env.QUANKE_API_KEY) return env.QUANKE_API_KEY.trim();
  const file = path.resolve(DEFAULT_ADMIN_KEY_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** Answers the running API, or undefined when nothing answers `/health` on the address within a second. */
export async function findRunningApi(config: Pick<Config, 'HOST' | 'PORT'>, env: Record<string, string | undefined> = process.env): Promise<RunningApi | undefined> {
  const baseUrl = apiBaseUrl(config);
  try {
    const health = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await health.json()) as { status?: unknown };
    if (!health.ok || body.status !== 'ok') return undefined;
  } catch {
    return undefined;
  }
  const key = adminKey(env);
  if (!key) {
    throw new AppError(
      'UNAUTHENTICATED',
      `An API is serving at ${baseUrl} and owns the warehouse, but no key to call it: set QUANKE_API_KEY or keep ${DEFAULT_ADMIN_KEY_FILE}`,
    );
  }
  const headers = { authorization: `Bearer ${key}` };
  const call = async <T>(route: string, init: RequestInit): Promise<T> => {
    const response = await fetch(`${baseUrl}${route}`, { ...init, headers: { ...headers, ...(init.headers ?? {}) } });
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) throw problemToError(response.status, body);
    return body as T;
  };
  return {
    baseUrl,
    json: (method, route, body) =>
      call(route, body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    upload: async (route, filePath) => {
      const form = new FormData();
      form.append('file', await openAsBlob(filePath), path.basename(filePath));
      return call(route, { method: 'POST', body: form });
    },
  };
}

/** The API's problem+json as the AppError it was, so the CLI prints it the same way either path. */
function problemToError(status: number, body: unknown): AppError {
  const problem = (body ?? {}) as { code?: string; detail?: string; title?: string; errors?: FieldProblem[] };
  const code = (problem.code && problem.code in ERRORS ? problem.code : status >= 500 ? 'INTERNAL' : 'VALIDATION') as ErrorCode;
  return new AppError(code, problem.detail ?? problem.title ?? `HTTP ${status}`, problem.errors);
}
