import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createTestContext, type TestContext } from '../helpers/context.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** Any standalone 11-digit run, after request ids (UUIDs, whose hex groups may hold digit runs) are removed. */
const ELEVEN_DIGITS = /(?<!\d)\d{11}(?!\d)/g;
const KEY_SECRET = /qk_[0-9a-f]{8}_[A-Za-z0-9_-]{8,}/g;

describe('request logs', () => {
  let ctx: TestContext;
  let app: FastifyInstance;
  const lines: string[] = [];

  beforeAll(async () => {
    ctx = await createTestContext({ LOG_LEVEL: 'debug' });
    app = await buildApp(ctx.container, { logStream: { write: (line: string) => void lines.push(line) } });
    // Code that, by mistake, puts a number and a key into an error and a log line.
    app.get('/v1/test-leaky/:msisdn', { config: { access: 'analyst' } }, async (request) => {
      const { msisdn } = request.params as { msisdn: string };
      request.log.info({ msisdn, apiKey: request.headers.authorization, note: `calling 86${msisdn}` }, 'about to fail');
      throw new Error(`gateway refused ${msisdn} (key ${request.headers.authorization})`);
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
  });

  it('never carry an 11-digit number or an API key secret', async () => {
    const analyst = ctx.auth('analyst');
    const key = analyst.authorization.slice('Bearer '.length);
    const numbers = ['13812345678', '13900001111', '15000000000', '18612345678'];
    const requests = [
      { url: `/v1/lists/blacklist/entries?msisdn=${numbers[0]}`, headers: analyst },
      { url: `/v1/segments/${randomUUID()}/explain?msisdn=%2B86${numbers[1]}`, headers: analyst },
      { url: `/v1/test-leaky/${numbers[2]}`, headers: analyst },
      { url: `/v1/datasets?api_key=${key}&msisdn=${numbers[3]}`, headers: { ...analyst, 'x-request-id': `trace-${numbers[3]}` } },
      { url: '/v1/datasets', headers: { authorization: `Bearer ${key}x` } },
      { method: 'POST' as const, url: '/v1/keys', headers: ctx.auth('admin'), payload: { name: `n-${numbers[0]}`, role: 'analyst' } },
      { method: 'POST' as const, url: '/v1/lists/blacklist/entries', headers: ctx.auth('operator'), payload: { msisdns: numbers } },
    ];
    const statuses: number[] = [];
    for (const r of requests) statuses.push((await app.inject(r)).statusCode);
    expect(statuses[2]).toBe(500);

    const log = lines.join('');
    // The run was logged (so the scan below means something), with numbers masked in place.
    expect(lines.length).toBeGreaterThan(requests.length * 2);
    expect(log).toContain('"msg":"about to fail"');
    expect(log).toContain('150****0000');
    expect(log).toContain('"msg":"request failed"');
    expect(log).toContain(`qk_${key.slice(3, 11)}_[redacted]`);

    const scanned = log.replace(UUID, '<uuid>');
    expect(scanned.match(ELEVEN_DIGITS) ?? []).toEqual([]);
    expect(scanned.match(KEY_SECRET) ?? []).toEqual([]);
    for (const n of numbers) expect(log).not.toContain(n);
    expect(log).not.toContain(key);
  });

  it('mask numbers written with separators or %-encoded in logged URLs', async () => {
    const analyst = ctx.auth('analyst');
    const urls = [
      '/v1/lists/blacklist/entries?msisdn=138-2345-6789',
      '/v1/lists/blacklist/entries?msisdn=138.2345.6790',
      '/v1/nowhere/%2B86%20138%202345%206791',
      '/v1/nowhere/138%2D2345%2D6792',
      '/v1/lists/blacklist/entries?msisdn=%2B8613823456793',
    ];
    lines.length = 0;
    for (const url of urls) await app.inject({ url, headers: analyst });
    const log = lines.join('');
    expect(log).toContain('138****6789');
    // The middle digits, however they were separated or encoded, appear nowhere.
    expect(log.replace(/%2[0BbDdEe]|[ .\-+]/g, '')).not.toMatch(/1382345\d{4}/);
  });
});
