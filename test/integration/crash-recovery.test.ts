import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createContainer, type Container } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { INTERRUPTED_BUILD, INTERRUPTED_IMPORT } from '../../src/ops/recovery.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { SegmentEngine } from '../../src/segments/segment.engine.js';
import { SegmentService } from '../../src/segments/segment.service.js';
import { deleteSegmentRow, findSegment, insertSegment } from '../../src/segments/segment.repository.js';
import { findImportRecord, insertRunningImport } from '../../src/warehouse/import.repository.js';
import { createTestContext, deleteQueueKeys, type TestContext } from '../helpers/context.js';

const SAMPLE_CUSTOMERS = path.join(import.meta.dirname, '../../fixtures/sample/customers.csv');
const ADMIN = SYSTEM_ACTOR;

/** The first `n` customers of the sample, and (by a plain split: the fixture has no quoted fields) their cities and numbers. */
function sampleCustomers(n: number): { csv: string; rows: Array<{ msisdn: string; city: string }> } {
  const [header, ...lines] = readFileSync(SAMPLE_CUSTOMERS, 'utf8').trim().split('\n');
  const names = header!.split(',');
  const taken = lines.slice(0, n);
  const rows = taken.map((line) => {
    const cells = line.split(',');
    return { msisdn: cells[names.indexOf('msisdn')]!, city: cells[names.indexOf('city')]! };
  });
  return { csv: [header, ...taken].join('\n') + '\n', rows };
}

async function tableNames(container: Container): Promise<string[]> {
  const rows = await container.warehouse.query<{ name: string }>(`SELECT table_name AS name FROM duckdb_tables() WHERE schema_name = 'main'`);
  return rows.map((r) => r.name);
}

const compact = (id: string) => id.replaceAll('-', '');

describe('a segment whose build fails', () => {
  let ctx: TestContext;
  afterAll(async () => ctx?.close());

  it('is failed with the reason, never left building, when its result cannot be recorded, and a refresh rebuilds it', async () => {
    ctx = await createTestContext();
    const { csv, rows } = sampleCustomers(30);
    writeFileSync(path.join(ctx.dir, 'customers.csv'), csv);
    await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, ADMIN);

    // The warehouse side succeeds, but its result cannot be recorded: Postgres refuses a NUL byte.
    const engine = new SegmentEngine(ctx.container.warehouse);
    const unrecordable = Object.assign(Object.create(engine) as SegmentEngine, {
      materialise: async (...args: Parameters<SegmentEngine['materialise']>) => {
        const made = await engine.materialise(...args);
        return { ...made, snapshotVersions: { ...made.snapshotVersions, 'customers\u0000': 1 } };
      },
    });
    const { db, catalog, conditions, mirror, config } = ctx.container;
    const segments = new SegmentService({ db, engine: unrecordable, catalog, conditions, mirror, msisdnPattern: config.MSISDN_PATTERN });

    const name = `unrecordable ${randomUUID()}`;
    const shenzhen = { field: 'city', op: 'eq', value: '深圳' };
    await expect(segments.create({ name, condition: shenzhen }, ADMIN)).rejects.toThrow();

    const [row, ...more] = await db.selectFrom('segments').select(['id', 'status', 'error']).where('name', '=', name).execute();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ status: 'failed', error: expect.stringMatching(/\S/) });
    // Members are refused with the reason, not "still being built".
    await expect(ctx.container.segments.members(row!.id, { limit: 10 }, ADMIN)).rejects.toMatchObject({ code: 'CONFLICT', message: /failed to build/ });
    // A refresh rebuilds it.
    const refreshed = await ctx.container.segments.refresh(row!.id, ADMIN);
    const expected = rows.filter((r) => r.city === '深圳').length;
    expect(expected).toBeGreaterThan(0);
    expect(refreshed.segment).toMatchObject({ status: 'ready', count: expected, error: null });
  });
});

describe('start-up recovery', () => {
  let dir: string | undefined;
  // The context is closed by hand mid-test (to reopen its warehouse file); only its folder is left.
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('fails segments left building, closes imports left running, and drops warehouse tables no Postgres row owns', async () => {
    const ctx = await createTestContext();
    dir = ctx.dir;
    const { db } = ctx.container;
    const { csv, rows } = sampleCustomers(40);
    writeFileSync(path.join(ctx.dir, 'customers.csv'), csv);

    // Every attempt is recorded: the record exists, `running`, before the file is read.
    let seenWhileRunning: string | undefined;
    const loaded = await ctx.container.imports.importFile({ dataset: 'customers', path: 'customers.csv', format: 'csv', mode: 'replace' }, ADMIN, {
      sourceLabel: `running-check-${ctx.config.QUEUE_PREFIX}`,
      onProgress: () => {
        seenWhileRunning ??= 'pending';
        void db
          .selectFrom('imports')
          .select('status')
          .where('source', '=', `running-check-${ctx.config.QUEUE_PREFIX}`)
          .executeTakeFirst()
          .then((r) => {
            if (seenWhileRunning === 'pending') seenWhileRunning = r?.status;
          });
      },
    });
    expect(loaded.status).toBe('succeeded');
    await expect.poll(() => seenWhileRunning).toBe('running');

    // A crash mid-build: the row says building, the warehouse has nothing.
    const shenzhen = { field: 'city', op: 'eq', value: '深圳' };
    const crashed = await insertSegment(db, {
      name: `crashed ${randomUUID()}`,
      kind: 'condition',
      condition: shenzhen,
      ruleRefs: [],
      segmentRefs: [],
      listRefs: [],
      createdBy: 'test',
    });
    // A crash after the warehouse committed an upload's tables, before Postgres recorded it.
    const numbers = path.join(ctx.dir, 'numbers.txt');
    writeFileSync(numbers, rows.slice(0, 3).map((r) => r.msisdn).join('\n'));
    const upload = await ctx.container.segments.createFromUpload({ name: `upload ${randomUUID()}`, filePath: numbers, filename: 'numbers.txt' }, ADMIN);
    await db.updateTable('segments').set({ status: 'building' }).where('id', '=', upload.id).execute();
    // A delete that removed the row and died before dropping the tables.
    const deleted = await ctx.container.segments.createFromUpload({ name: `deleted ${randomUUID()}`, filePath: numbers, filename: 'numbers.txt' }, ADMIN);
    await deleteSegmentRow(db, deleted.id);
    // A targeting run whose result table was written but whose row was never committed.
    const uncommittedRun = randomUUID();
    await ctx.container.warehouse.write((c) => c.run(`CREATE TABLE "tgt_${compact(uncommittedRun)}" (customer_id BIGINT)`));
    // An import killed mid-way.
    const killed = await insertRunningImport(db, { dataset: 'customers', format: 'csv', mode: 'replace', source: 'killed.csv', createdBy: 'test' });

    expect(await tableNames(ctx.container)).toEqual(
      expect.arrayContaining([`seg_${compact(upload.id)}`, `segn_${compact(deleted.id)}`, `seg_${compact(deleted.id)}`, `tgt_${compact(uncommittedRun)}`]),
    );
    await ctx.app.close();
    await ctx.container.close();

    const reopened = await createContainer(ctx.config, createLogger('silent'));
    try {
      expect(await findSegment(reopened.db, crashed.id)).toMatchObject({ status: 'failed', error: INTERRUPTED_BUILD });
      expect(await findSegment(reopened.db, upload.id)).toMatchObject({ status: 'failed', error: INTERRUPTED_BUILD });
      expect(await findImportRecord(reopened.db, killed.id)).toMatchObject({
        status: 'interrupted',
        errors: [{ path: 'file', message: INTERRUPTED_IMPORT }],
      });

      const tables = await tableNames(reopened);
      expect(tables).not.toContain(`seg_${compact(deleted.id)}`);
      expect(tables).not.toContain(`segn_${compact(deleted.id)}`);
      expect(tables).not.toContain(`tgt_${compact(uncommittedRun)}`);
      // Tables whose row lives stay: the upload's numbers are what its rebuild needs.
      expect(tables).toContain(`segn_${compact(upload.id)}`);

      // Failed segments are rebuilt by a refresh.
      const rebuilt = await reopened.segments.refresh(crashed.id, ADMIN);
      expect(rebuilt.segment).toMatchObject({ status: 'ready', count: rows.filter((r) => r.city === '深圳').length, error: null });
      expect(rebuilt.segment.count).toBeGreaterThan(0);
      const reuploaded = await reopened.segments.refresh(upload.id, ADMIN);
      expect(reuploaded.segment).toMatchObject({ status: 'ready', count: 3, error: null });
    } finally {
      await deleteQueueKeys(reopened, ctx.config.QUEUE_PREFIX);
      await reopened.close();
    }
  });
});
