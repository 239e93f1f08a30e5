import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database } from '../db/schema.js';
import { ident, type Warehouse } from '../warehouse/duckdb.js';
import { PROFILE_TABLE } from '../warehouse/schema.js';
import { targetingTable } from '../warehouse/tables.js';
import { ledgerPartition } from './ledger.repository.js';

export interface FreezeRequest {
  campaignId: string;
  /** The targeting run whose target and control group are frozen. */
  runId: string;
  /** Customers columns the message template reads: captured per recipient now, as they are at launch. */
  columns: readonly string[];
}

export interface Frozen {
  target: number;
  control: number;
}

/**
 * Freezes a targeting run into the message ledger. DuckDB writes the recipients (seq, customer,
 * number, group, template variables as JSON) as CSV at its own multi-threaded speed; Postgres
 * loads the file with COPY into the campaign's new partition — all inside one Postgres transaction
 * with the caller's own statements (the campaign's status change, its audit row), so a launch is
 * all-or-nothing: either every recipient is in the ledger and the campaign says so, or neither.
 */
export class LedgerFreezer {
  constructor(
    private readonly deps: { warehouse: Warehouse; databaseUrl: string; scratchDir: string },
  ) {}

  async freeze(request: FreezeRequest, inTransaction: (trx: Kysely<Database>, frozen: Frozen) => Promise<void>): Promise<Frozen> {
    await mkdir(this.deps.scratchDir, { recursive: true });
    const file = path.join(this.deps.scratchDir, `ledger-${randomUUID()}.csv`);
    const client = new pg.Client({ connectionString: this.deps.databaseUrl });
    try {
      const frozen = await this.writeRecipients(request, file);
      await client.connect();
      const partition = ledgerPartition(request.campaignId);
      await client.query('BEGIN');
      try {
        // Created in this transaction, so COPY FREEZE may write the rows already frozen: no
        // later anti-wraparound vacuum has to rewrite a million-row partition.
        await client.query(
          `CREATE TABLE ${partition} PARTITION OF message_ledger FOR VALUES IN ('${request.campaignId}') WITH (fillfactor = 70)`,
        );
        const copy = client.query(
          copyFrom(`COPY ${partition} (campaign_id, seq, customer_id, msisdn, is_control, status, vars) FROM STDIN WITH (FORMAT csv, FREEZE)`),
        );
        await pipeline(createReadStream(file), copy);
        await inTransaction(onClient(client), frozen);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      // Fresh statistics, so progress and claims plan against the partition's real size.
      await client.query(`ANALYZE ${partition}`);
      return frozen;
    } finally {
      await client.end().catch(() => undefined);
      await rm(file, { force: true });
    }
  }

  private async writeRecipients(request: FreezeRequest, file: string): Promise<Frozen> {
    const vars =
      request.columns.length === 0 ? 'NULL' : `to_json(struct_pack(${request.columns.map((c) => `${ident(c)} := p.${ident(c)}`).join(', ')}))`;
    const campaign = request.campaignId.replace(/[^0-9a-f-]/gi, '');
    const tgt = targetingTable(request.runId);
    await this.deps.warehouse.read(async (c) => {
      await c.run(
        `COPY (
           SELECT '${campaign}' AS campaign_id,
             (row_number() OVER (ORDER BY t.is_control, t.customer_id) - 1)::INTEGER AS seq,
             t.customer_id, p.msisdn, t.is_control,
             CASE WHEN t.is_control THEN 'control' ELSE 'queued' END AS status,
             ${vars} AS vars
           FROM ${tgt} t JOIN ${PROFILE_TABLE} p ON p.customer_id = t.customer_id
           WHERE t.removed_by_step = 0 AND p.msisdn IS NOT NULL
         ) TO '${file.replaceAll("'", "''")}' (FORMAT csv, HEADER false)`,
      );
    });
    const counts = await this.deps.warehouse.query<{ target: number; control: number }>(
      `SELECT count(*) FILTER (WHERE NOT t.is_control) AS target, count(*) FILTER (WHERE t.is_control) AS control
       FROM ${tgt} t JOIN ${PROFILE_TABLE} p ON p.customer_id = t.customer_id
       WHERE t.removed_by_step = 0 AND p.msisdn IS NOT NULL`,
    );
    return { target: Number(counts[0]?.target ?? 0), control: Number(counts[0]?.control ?? 0) };
  }
}

/** A Kysely bound to one already-open client, so the caller's statements join its transaction. */
function onClient(client: pg.Client): Kysely<Database> {
  const pooled = Object.assign(client, { release: () => undefined });
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: { connect: async () => pooled, end: async () => undefined } as unknown as pg.Pool }),
  });
}

/** Drops a campaign's ledger partition (a launch that never committed leaves none; this is for retention). */
export async function dropLedgerPartition(db: Kysely<Database>, campaignId: string): Promise<void> {
  await sql.raw(`DROP TABLE IF EXISTS ${ledgerPartition(campaignId)}`).execute(db);
}
