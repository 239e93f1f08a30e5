import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { MirrorPass } from '../lists/list.mirror.js';
import { ledgerPartition } from '../sending/ledger.repository.js';
import type { Warehouse } from '../warehouse/duckdb.js';

/** `seq >> BLOCK_BITS` is a ledger block: the unit the mirror compares and re-copies. */
export const BLOCK_BITS = 16;

/**
 * The checksum of one block as Postgres sees it. Every column the reports read goes into a per-row
 * hash mixed with the row's seq (so two rows swapping states still changes the sum); summed as
 * numeric, so it never overflows.
 */
const BLOCK_CHECKSUMS = `
  SELECT seq >> ${BLOCK_BITS} AS block, count(*)::bigint AS rows,
    sum(hashint8(seq::bigint)::bigint
      # hashtext(status)::bigint
      # coalesce(hashtext(error_code)::bigint, 7)
      # coalesce(parts::bigint, 11)
      # coalesce((extract(epoch FROM submitted_at) * 1000000)::bigint, 13)
      # coalesce((extract(epoch FROM final_at) * 1000000)::bigint, 17))::text AS checksum
  FROM message_ledger WHERE campaign_id = $1 GROUP BY 1`;

interface BlockChecksum {
  block: number;
  rows: number;
  checksum: string;
}

interface CampaignToCheck {
  id: string;
  /** Receipts are closed (overdue messages expired) and the mirror copied the ledger after that. */
  settled: boolean;
}

/**
 * Mirrors the message ledger's outcomes into DuckDB's `ledger_outcomes`, by campaign and block.
 *
 * The ledger has no change timestamp a watermark could use: its timestamps are set by some status
 * writes and cleared by others (a retried message goes back to `queued` with none), receipts may
 * stamp the gateway's time, and an indexed `updated_at` would make every status write a non-HOT
 * update. So a pass asks Postgres for each live campaign's per-block checksums (one scan of its
 * partition, ~0.15 s per million rows) and re-copies only the blocks whose checksum differs from
 * the one stored when they were last copied; checksums and copies are read in one REPEATABLE READ
 * snapshot, so what is stored is exactly what was copied.
 *
 * A campaign whose receipts are closed (sending stopped, overdue messages expired:
 * `campaigns.receipts_closed_at`) is checked once more after that and then never again, so a pass
 * over a history of finished campaigns costs one small query.
 */
export class LedgerMirror {
  constructor(
    private readonly deps: { databaseUrl: string; warehouse: Warehouse; scratchDir: string },
  ) {}

  async sync(): Promise<MirrorPass> {
    const started = performance.now();
    const settledIds = new Set(
      (await this.deps.warehouse.query<{ campaign_id: string }>('SELECT campaign_id FROM _ledger_campaigns WHERE settled')).map((r) => r.campaign_id),
    );
    const client = new pg.Client({ connectionString: this.deps.databaseUrl });
    await client.connect();
    let read = 0;
    let applied = 0;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const campaigns = (
        await client.query<{ id: string; closed: boolean }>(
          `SELECT id::text, receipts_closed_at IS NOT NULL AS closed FROM campaigns
           WHERE launched_at IS NOT NULL AND to_regclass($1 || replace(id::text, '-', '')) IS NOT NULL`,
          ['message_ledger_'],
        )
      ).rows;
      const live = new Set(campaigns.map((c) => c.id));
      const gone = [...(await this.mirroredCampaigns())].filter((id) => !live.has(id));
      const toCheck: CampaignToCheck[] = campaigns.filter((c) => !settledIds.has(c.id)).map((c) => ({ id: c.id, settled: c.closed }));
      for (const campaign of toCheck) {
        const outcome = await this.syncCampaign(client, campaign);
        read += outcome.read;
        applied += outcome.applied;
      }
      await client.query('COMMIT');
      if (gone.length > 0) applied += await this.forget(gone);
    } finally {
      await client.end().catch(() => undefined);
    }
    return { read, applied, ms: Math.round(performance.now() - started) };
  }

  private async mirroredCampaigns(): Promise<Set<string>> {
    const rows = await this.deps.warehouse.query<{ campaign_id: string }>('SELECT campaign_id FROM _ledger_campaigns');
    return new Set(rows.map((r) => r.campaign_id));
  }

  /** A campaign deleted (or its partition dropped for retention) leaves the mirror too. */
  private forget(ids: string[]): Promise<number> {
    return this.deps.warehouse.transaction(async (c) => {
      let removed = 0;
      for (const id of ids) {
        const deleted = await c.runAndReadAll('DELETE FROM ledger_outcomes WHERE campaign_id = $1', [id]);
        removed += Number(deleted.getRowObjectsJS()[0]?.Count ?? 0);
        await c.run('DELETE FROM _ledger_blocks WHERE campaign_id = $1', [id]);
        await c.run('DELETE FROM _ledger_campaigns WHERE campaign_id = $1', [id]);
      }
      return removed;
    });
  }

  private async syncCampaign(client: pg.Client, campaign: CampaignToCheck): Promise<{ read: number; applied: number }> {
    const current = (await client.query<BlockChecksum>(BLOCK_CHECKSUMS, [campaign.id])).rows.map((r) => ({
      block: Number(r.block),
      rows: Number(r.rows),
      checksum: r.checksum,
    }));
    const stored = new Map(
      (
        await this.deps.warehouse.query<{ block: number; checksum: string }>('SELECT block, checksum FROM _ledger_blocks WHERE campaign_id = $1', [
          campaign.id,
        ])
      ).map((r) => [r.block, r.checksum]),
    );
    const changed = current.filter((b) => stored.get(b.block) !== b.checksum);
    const vanished = [...stored.keys()].filter((block) => !current.some((b) => b.block === block));
    if (changed.length === 0 && vanished.length === 0) {
      if (campaign.settled) await this.markSettled(campaign.id);
      return { read: 0, applied: 0 };
    }
    await mkdir(this.deps.scratchDir, { recursive: true });
    const file = path.join(this.deps.scratchDir, `ledger-mirror-${randomUUID()}.csv`);
    try {
      if (changed.length > 0) {
        const ranges = blockRanges(changed.map((b) => b.block));
        const where = ranges.map(([from, to]) => `(seq >= ${from << BLOCK_BITS} AND seq < ${to << BLOCK_BITS})`).join(' OR ');
        // Straight from the partition: the parent would plan the OR of ranges across every campaign.
        const copy = client.query(
          copyTo(`COPY (
            SELECT seq, customer_id, is_control, status, error_code, parts,
              (extract(epoch FROM submitted_at) * 1000000)::bigint, (extract(epoch FROM final_at) * 1000000)::bigint
            FROM ${ledgerPartition(campaign.id)} WHERE ${where}) TO STDOUT WITH (FORMAT csv)`),
        );
        await pipeline(copy, createWriteStream(file));
      }
      const read = changed.reduce((n, b) => n + b.rows, 0);
      await this.deps.warehouse.transaction(async (c) => {
        const blocks = [...changed.map((b) => b.block), ...vanished];
        await c.run(`DELETE FROM ledger_outcomes WHERE campaign_id = $1 AND (seq >> ${BLOCK_BITS}) IN (SELECT unnest($2::INTEGER[]))`, [
          campaign.id,
          listValue(blocks),
        ]);
        if (changed.length > 0) await insertCopiedRows(c, campaign.id, file);
        await c.run(`DELETE FROM _ledger_blocks WHERE campaign_id = $1 AND block IN (SELECT unnest($2::INTEGER[]))`, [campaign.id, listValue(blocks)]);
        for (const b of changed) {
          await c.run('INSERT INTO _ledger_blocks (campaign_id, block, checksum) VALUES ($1, $2, $3)', [campaign.id, b.block, b.checksum]);
        }
        await c.run(
          `INSERT INTO _ledger_campaigns (campaign_id, settled, copied_at) VALUES ($1, $2, now())
           ON CONFLICT (campaign_id) DO UPDATE SET settled = excluded.settled, copied_at = excluded.copied_at`,
          [campaign.id, campaign.settled],
        );
      });
      return { read, applied: read };
    } finally {
      await rm(file, { force: true });
    }
  }

  private async markSettled(campaignId: string): Promise<void> {
    await this.deps.warehouse.write((c) =>
      c.run(
        `INSERT INTO _ledger_campaigns (campaign_id, settled, copied_at) VALUES ($1, true, now())
         ON CONFLICT (campaign_id) DO UPDATE SET settled = true`,
        [campaignId],
      ),
    );
  }
}

async function insertCopiedRows(c: DuckDBConnection, campaignId: string, file: string): Promise<void> {
  await c.run(
    `INSERT INTO ledger_outcomes (campaign_id, seq, customer_id, is_control, status, error_code, parts, submitted_at, final_at)
     SELECT $1, seq, customer_id, is_control, status, error_code, parts,
       CASE WHEN submitted_us IS NULL THEN NULL ELSE make_timestamptz(submitted_us) END,
       CASE WHEN final_us IS NULL THEN NULL ELSE make_timestamptz(final_us) END
     FROM read_csv($2, header = false, delim = ',', quote = '"', escape = '"', nullstr = '',
       columns = {'seq': 'INTEGER', 'customer_id': 'BIGINT', 'is_control': 'BOOLEAN', 'status': 'VARCHAR',
                  'error_code': 'VARCHAR', 'parts': 'SMALLINT', 'submitted_us': 'BIGINT', 'final_us': 'BIGINT'})`,
    [campaignId, file],
  );
}

/** Sorted, merged `[from, to)` block ranges, so the copy walks the primary key a range at a time. */
export function blockRanges(blocks: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const block of sorted) {
    const last = ranges.at(-1);
    if (last && last[1] === block) last[1] = block + 1;
    else ranges.push([block, block + 1]);
  }
  return ranges;
}

/** A DuckDB list parameter. */
function listValue(values: number[]): string {
  return `[${values.join(',')}]`;
}
