import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markSegmentFailed } from '../../src/segments/segment.repository.js';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

/**
 * The campaign routes' refusals: bad definitions are 4xx naming the field and store nothing;
 * four-eyes approval, launch conflicts and roles. No send workers: nothing here needs a message out.
 */
describe('campaign routes refuse what they must', () => {
  let ctx: SendingContext;
  let segmentId: string;

  beforeAll(async () => {
    ctx = await createSendingContext();
    const segment = await ctx.app.inject({
      method: 'POST',
      url: '/v1/segments',
      headers: ctx.auth('operator'),
      payload: { name: `seg-${randomUUID().slice(0, 8)}`, condition: { field: 'city', op: 'eq', value: '珠海' } },
    });
    expect(segment.statusCode).toBe(201);
    segmentId = segment.json().id;
  });
  afterAll(async () => ctx?.close());

  const body = (overrides: Record<string, unknown> = {}) => ({
    name: `campaign-${randomUUID().slice(0, 8)}`,
    segmentId,
    message: { text: '尊敬的{name}，您本月流量已用{data_mb}MB', signature: '【中国移动】', optOutSuffix: '回T退订' },
    gateway: 'simulator',
    ...overrides,
  });

  const inject = (method: 'POST' | 'PATCH', url: string, headers: { authorization: string }, payload: unknown = {}) =>
    ctx.app.inject({ method, url, headers, payload: payload as object });

  const campaignRows = async () => Number((await ctx.container.db.selectFrom('campaigns').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  async function failedSegment(): Promise<string> {
    const created = await inject('POST', '/v1/segments', ctx.auth('operator'), { name: `seg-${randomUUID().slice(0, 8)}`, condition: { field: 'city', op: 'eq', value: '云浮' } });
    await markSegmentFailed(ctx.container.db, created.json().id, 'the warehouse went away');
    return created.json().id;
  }

  it('answers 4xx naming the field for a bad definition, and stores nothing', async () => {
    const cases: Array<[string, () => Promise<Record<string, unknown>>, string]> = [
      ['a failed segment', async () => body({ segmentId: await failedSegment() }), 'segmentId'],
      ['a missing segment', async () => body({ segmentId: randomUUID() }), 'segmentId'],
      ['an unknown gateway', async () => body({ gateway: 'no-such-gateway' }), 'gateway'],
      ['a placeholder that is no catalog column', async () => body({ message: { text: '您好{favourite_colour}' } }), 'message.text'],
      ['an empty message', async () => body({ message: { text: '' } }), 'message.text'],
      ['a blank message', async () => body({ message: { text: '   ' } }), 'message.text'],
      // 700 UCS-2 characters (and the signature) need 11 parts of 67.
      ['a message over 10 parts', async () => body({ message: { text: '流'.repeat(700), signature: '【中国移动】' } }), 'message.text'],
    ];
    const before = await campaignRows();
    for (const [name, make, path] of cases) {
      const answer = await inject('POST', '/v1/campaigns', ctx.auth('operator'), await make());
      expect(answer.statusCode, name).toBeGreaterThanOrEqual(400);
      expect(answer.statusCode, name).toBeLessThan(500);
      expect(answer.json().errors?.map((e: { path: string }) => e.path), name).toContain(path);
    }
    expect(await campaignRows()).toBe(before);
  });

  it('refuses a bad edit with the field and leaves the campaign as it was', async () => {
    const created = await inject('POST', '/v1/campaigns', ctx.auth('operator'), body());
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    const answer = await inject('PATCH', `/v1/campaigns/${id}`, ctx.auth('operator'), { gateway: 'no-such-gateway', message: { text: '' } });
    expect(answer.statusCode).toBe(400);
    expect(answer.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['gateway', 'message.text']);
    const after = await ctx.app.inject({ method: 'GET', url: `/v1/campaigns/${id}`, headers: ctx.auth('operator') });
    expect(after.json()).toMatchObject({ gateway: 'simulator', message: created.json().message, updatedAt: created.json().updatedAt });
  });

  it('needs a second operator to approve, refuses launching unapproved or twice, and gives each role its part', async () => {
    const before = await campaignRows();
    const byAnalyst = await inject('POST', '/v1/campaigns', ctx.auth('analyst'), body());
    expect(byAnalyst.statusCode).toBe(403);
    expect(await campaignRows()).toBe(before);

    const created = await inject('POST', '/v1/campaigns', ctx.auth('operator'), body());
    const id = created.json().id;
    expect((await inject('POST', `/v1/campaigns/${id}/target`, ctx.auth('operator'))).statusCode).toBe(200);

    const selfApproved = await inject('POST', `/v1/campaigns/${id}/approve`, ctx.auth('operator'));
    expect(selfApproved.statusCode).toBe(403);
    expect(selfApproved.json().code).toBe('FORBIDDEN');
    const unapproved = await inject('POST', `/v1/campaigns/${id}/launch`, ctx.auth('scheduler'));
    expect(unapproved.statusCode).toBe(409);
    expect(unapproved.json().currentStatus).toBe('targeted');
    expect((await inject('POST', `/v1/campaigns/${id}/approve`, ctx.auth('analyst'))).statusCode).toBe(403);
    expect((await inject('POST', `/v1/campaigns/${id}/approve`, ctx.approver, { note: 'checked the text' })).statusCode).toBe(200);

    expect((await inject('POST', `/v1/campaigns/${id}/launch`, ctx.auth('operator'))).statusCode).toBe(403);
    const launched = await inject('POST', `/v1/campaigns/${id}/launch`, ctx.auth('scheduler'));
    expect(launched.statusCode).toBe(200);
    expect(launched.json().status).toBe('sending');
    const twice = await inject('POST', `/v1/campaigns/${id}/launch`, ctx.auth('scheduler'));
    expect(twice.statusCode).toBe(409);
    expect(twice.json().currentStatus).toBe('sending');

    expect((await inject('POST', `/v1/campaigns/${id}/pause`, ctx.auth('operator'))).statusCode).toBe(403);
    const edited = await inject('PATCH', `/v1/campaigns/${id}`, ctx.auth('operator'), { name: 'too late' });
    expect(edited.statusCode).toBe(409);
    expect(edited.json().currentStatus).toBe('sending');
    const ledger = await ctx.container.db
      .selectFrom('message_ledger')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('campaign_id', '=', id)
      .executeTakeFirstOrThrow();
    // One launch froze the target once.
    expect(Number(ledger.n)).toBe(launched.json().progress.total + launched.json().progress.control);
    expect((await inject('POST', `/v1/campaigns/${id}/cancel`, ctx.auth('scheduler'))).statusCode).toBe(200);
  });

  it('lets exactly one of two simultaneous launches win; the other is 409 and the ledger is frozen once', async () => {
    const id = (await inject('POST', '/v1/campaigns', ctx.auth('operator'), body())).json().id;
    expect((await inject('POST', `/v1/campaigns/${id}/target`, ctx.auth('operator'))).statusCode).toBe(200);
    expect((await inject('POST', `/v1/campaigns/${id}/approve`, ctx.approver)).statusCode).toBe(200);
    const answers = await Promise.all([1, 2].map(() => inject('POST', `/v1/campaigns/${id}/launch`, ctx.auth('scheduler'))));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.statusCode === 200)!.json();
    expect(answers.find((a) => a.statusCode === 409)!.json().code).toBe('CONFLICT');
    const ledger = await ctx.container.db
      .selectFrom('message_ledger')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('campaign_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(Number(ledger.n)).toBe(winner.progress.total + winner.progress.control);
    expect((await inject('POST', `/v1/campaigns/${id}/cancel`, ctx.auth('scheduler'))).statusCode).toBe(200);
  });
});
