import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context.js';

type Response = { description: string; content?: Record<string, { schema: unknown }> };
type Operation = { security?: unknown[]; description?: string; 'x-required-role'?: string; responses: Record<string, Response> };
type Document = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { required?: string[]; properties: Record<string, { enum?: string[] }> }> };
};

const PROBLEM = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

describe('the OpenAPI document at /docs/json', () => {
  let ctx: TestContext;
  let doc: Document;
  beforeAll(async () => {
    ctx = await createTestContext();
    const res = await ctx.app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => ctx?.close());

  const op = (path: string, method: string) => {
    const found = doc.paths[path]?.[method];
    expect(found, `${method.toUpperCase()} ${path}`).toBeDefined();
    return found!;
  };

  it('describes the problem+json error answers of a route', () => {
    const preview = op('/v1/segments/preview', 'post');
    expect(Object.keys(preview.responses).sort()).toEqual(['200', '400', '401', '403', '409', '413', '422', '429', '503']);
    for (const status of ['400', '401', '403', '413', '429', '503']) expect(preview.responses[status]!.content).toEqual(PROBLEM);
    expect(preview.responses['400']!.description).toContain('`BAD_CONDITION`');
    expect(preview.responses['429']!.description).toContain('`RATE_LIMITED`');
    expect(preview.responses['503']!.description).toContain('`QUERY_TIMEOUT`');

    const deleteRule = op('/v1/rules/{name}', 'delete');
    expect(deleteRule.responses['404']!.content).toEqual(PROBLEM);
    expect(deleteRule.responses['409']!.description).toContain('`IN_USE`');
    expect(deleteRule.responses['413']).toBeUndefined();

    const problem = doc.components.schemas.Problem!;
    expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code', 'detail']));
    expect(problem.properties.code!.enum).toEqual(expect.arrayContaining(['VALIDATION', 'UNAUTHENTICATED', 'RATE_LIMITED', 'IMPORT_REJECTED']));
  });

  it('names the role each route needs, matching the route table', () => {
    expect(op('/v1/segments/preview', 'post')['x-required-role']).toBe('analyst');
    expect(op('/v1/rules/{name}', 'delete')['x-required-role']).toBe('operator');
    expect(op('/v1/exclusion-policies/{name}', 'put')['x-required-role']).toBe('operator');
    expect(op('/v1/keys', 'post')['x-required-role']).toBe('admin');
    expect(op('/v1/keys', 'post').description).toContain('Needs a key with the `admin` role');
    expect(op('/v1/lists/{type}/entries', 'post').description).toContain('(allowed: operator, admin)');
    const toOpenApi = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const documented = ctx.app.routeAccess.filter((r) => r.method !== 'HEAD' && doc.paths[toOpenApi(r.url)]?.[r.method.toLowerCase()]);
    expect(documented.length).toBeGreaterThan(20);
    for (const route of documented) {
      const operation = doc.paths[toOpenApi(route.url)]![route.method.toLowerCase()]!;
      expect(operation['x-required-role'], `${route.method} ${route.url}`).toBe(route.access);
      if (route.access !== 'public') expect(operation.responses['401']?.content, `${route.method} ${route.url}`).toEqual(PROBLEM);
    }
  });

  it('marks the probes public and /metrics keyless from loopback', () => {
    for (const path of ['/health', '/ready']) {
      const probe = op(path, 'get');
      expect(probe.security, path).toEqual([]);
      expect(probe['x-required-role']).toBe('public');
      expect(probe.responses['401']).toBeUndefined();
    }
    const metrics = op('/metrics', 'get');
    expect(metrics.security).toEqual([{}, { apiKey: [] }]);
    expect(metrics.description).toContain('loopback');
    expect(metrics.responses['200']).toBeDefined();
    // Everything else needs the key the document declares globally.
    expect(op('/v1/datasets', 'get').security).toBeUndefined();
  });
});
