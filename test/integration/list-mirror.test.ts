import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContactHistoryMirror } from '../../src/exclusions/contact-history.mirror.js';
import { insertContacts } from '../../src/exclusions/contact-history.repository.js';
import { ListMirror } from '../../src/lists/list.mirror.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { createTestContext, type TestContext } from '../helpers/context.js';
import { dropOwnDatabase, ownDatabaseUrl } from '../helpers/own-database.js';

const HEADER =
  'customer_id,msisdn,name,gender,age,city,county,grid_id,brand,plan_id,arpu,mou,data_mb,tenure_months,status,is_5g_device,vip_level,join_date';
const customerRow = (id: number, msisdn: string) => `${id},${msisdn},客户${id},M,30,广州,天河区,G1,gotone,P1,50.00,100,1000,12,active,true,0,2020-01-01`;
const number = (i: number) => `139000000${String(i).padStart(2, '0')}`;

type Member = {
  list_name: string;
  msisdn: string;
  customer_id: number;
  expires_at: Date | null;
};

describe('DuckDB mirror of lists and contact history', () => {
  let ctx: TestContext;
  let databaseUrl: string;
  const operator = { name: 'mirror-test', role: 'operator' as const };

  const importCustomers = async (rows: Array<[number, string]>) => {
    writeFileSync(path.join(ctx.dir, 'customers.csv'), [HEADER, ...rows.map(([id, m]) => customerRow(id, m))].join('\n'));
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, SYSTEM_ACTOR);
  };
  const members = () =>
    ctx.container.warehouse.query<Member>('SELECT list_name, msisdn, customer_id, expires_at FROM list_members ORDER BY list_name, msisdn, customer_id');
  const mirrored = () => ctx.container.warehouse.query<{ list_name: string; msisdn: string }>('SELECT list_name, msisdn FROM list_entries_mirror ORDER BY 1, 2');
  const sync = async () => (await ctx.container.mirror.sync()).lists;

  beforeAll(async () => {
    // The mirror reads every entry in Postgres: a database of its own keeps other test files' rows out.
    databaseUrl = ownDatabaseUrl();
    ctx = await createTestContext({ DATABASE_URL: databaseUrl });
    await importCustomers([1, 2, 3, 4, 5, 6].map((i) => [i, number(i)]));
  });
  afterAll(async () => {
    await ctx?.close();
    if (databaseUrl) await dropOwnDatabase(databaseUrl);
  });

  it('applies adds, updates, deletions and expiry incrementally, and nothing when nothing changed', async () => {
    const { lists } = ctx.container;
    const unknown = number(99);
    const inAWeek = new Date(Date.now() + 7 * 86_400_000);
    await lists.addEntries('blacklist', [number(1), number(2), unknown], { source: 'api', reason: 'fraud' }, operator);
    await lists.addEntries('greylist', [number(3)], { source: 'api', expiresAt: inAWeek }, operator);

    expect(await sync()).toMatchObject({ read: 4, applied: 4 });
    expect(await members()).toEqual([
      { list_name: 'blacklist', msisdn: number(1), customer_id: 1, expires_at: null },
      { list_name: 'blacklist', msisdn: number(2), customer_id: 2, expires_at: null },
      { list_name: 'greylist', msisdn: number(3), customer_id: 3, expires_at: inAWeek },
    ]);
    // A number nobody has is mirrored (it may resolve after the next customers import) but matches no one.
    expect(await mirrored()).toContainEqual({ list_name: 'blacklist', msisdn: unknown });

    expect((await sync()).applied).toBe(0);

    // A new reason changes nothing the warehouse sees; a new expiry does.
    await lists.addEntries('blacklist', [number(1)], { source: 'api', reason: 'still fraud' }, operator);
    expect((await sync()).applied).toBe(0);
    const inAMonth = new Date(Date.now() + 30 * 86_400_000);
    await lists.addEntries('greylist', [number(3)], { source: 'api', expiresAt: inAMonth }, operator);
    expect((await sync()).applied).toBe(1);
    expect((await members()).find((m) => m.list_name === 'greylist')?.expires_at).toEqual(inAMonth);

    await lists.removeEntry('blacklist', number(2), operator);
    expect((await sync()).applied).toBe(1);
    expect((await members()).map((m) => m.msisdn)).toEqual([number(1), number(3)]);

    // Expiry passing is judged at query time against expires_at; here it is moved into the past.
    await ctx.container.db
      .updateTable('list_entries')
      .set({ expires_at: new Date(Date.now() - 3_600_000), updated_at: new Date() })
      .where('list_name', '=', 'greylist')
      .where('msisdn', '=', number(3))
      .execute();
    expect((await sync()).applied).toBe(1);
    const active = await ctx.container.warehouse.query(
      `SELECT customer_id FROM list_members WHERE list_name = 'greylist' AND (expires_at IS NULL OR expires_at > now())`,
    );
    expect(active).toEqual([]);
  });

  it('re-resolves every member when customers is re-imported', async () => {
    const { lists } = ctx.container;
    await lists.addEntries('dnd', [number(4), number(77)], { source: 'api' }, operator);
    await sync();
    expect((await members()).filter((m) => m.list_name === 'dnd').map((m) => m.customer_id)).toEqual([4]);
    // Customer 4 now has another number; 77 now belongs to customer 12.
    await importCustomers([
      [1, number(1)],
      [4, number(40)],
      [12, number(77)],
    ]);
    const dnd = (await members()).filter((m) => m.list_name === 'dnd');
    expect(dnd.map((m) => [m.msisdn, m.customer_id])).toEqual([[number(77), 12]]);
    await importCustomers([1, 2, 3, 4, 5, 6].map((i) => [i, number(i)]));
  });

  it('does not skip a change committed after a later one (out-of-order commits)', async () => {
    const { lists, db, warehouse } = ctx.container;
    // No overlap window: only the oldest-open-transaction bound protects the slow writer.
    const mirror = new ListMirror(db, warehouse, { overlapMs: 0 });
    await mirror.sync();
    const slow = new pg.Client({ connectionString: databaseUrl });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      await slow.query(
        `INSERT INTO list_entries (list_name, msisdn, source, created_by, updated_by) VALUES ('complaint', $1, 'api', 'slow', 'slow')`,
        [number(5)],
      );
      await lists.addEntries('complaint', [number(6)], { source: 'api' }, operator);
      await mirror.sync();
      const complaint = async () => (await members()).filter((m) => m.list_name === 'complaint').map((m) => m.customer_id);
      expect(await complaint()).toEqual([6]);
      await slow.query('COMMIT');
      expect((await mirror.sync()).applied).toBe(1);
      expect(await complaint()).toEqual([5, 6]);
    } finally {
      await slow.end();
    }
  });

  it('pages through a full re-read and applies nothing when the mirror is current', async () => {
    const { db, warehouse } = ctx.container;
    const total = Number((await db.selectFrom('list_entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    await warehouse.write((c) => c.run(`DELETE FROM _mirror_state WHERE name = 'list_entries'`));
    const pass = await new ListMirror(db, warehouse, { pageSize: 2 }).sync();
    expect(pass).toMatchObject({ read: total, applied: 0 });
  });

  it('appends contact history once, however often it is read', async () => {
    const { db, warehouse } = ctx.container;
    const sentAt = new Date('2026-11-01T10:00:00Z');
    const contacts = [
      { customerId: 1, campaignId: 'c-1', category: '5g_upgrade', sentAt },
      { customerId: 2, campaignId: 'c-1', category: '5g_upgrade', sentAt },
      { customerId: 3, campaignId: 'c-2', category: null, sentAt: new Date('2026-11-02T10:00:00Z') },
    ];
    await insertContacts(db, contacts);
    expect((await ctx.container.mirror.sync()).contactHistory.applied).toBe(3);
    expect((await ctx.container.mirror.sync()).contactHistory.applied).toBe(0);
    await warehouse.write((c) => c.run(`DELETE FROM _mirror_state WHERE name = 'contact_history'`));
    expect(await new ContactHistoryMirror(db, warehouse, { pageSize: 2 }).sync()).toMatchObject({ read: 3, applied: 0 });
    const rows = await warehouse.query<{ customer_id: number; campaign_id: string; category: string | null; sent_at: Date }>(
      'SELECT customer_id, campaign_id, category, sent_at FROM contact_history ORDER BY customer_id',
    );
    expect(rows).toEqual(contacts.map((c) => ({ customer_id: c.customerId, campaign_id: c.campaignId, category: c.category, sent_at: c.sentAt })));
  });
});
