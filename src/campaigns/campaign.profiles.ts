import { ident, type Warehouse } from '../warehouse/duckdb.js';
import { PROFILE_TABLE } from '../warehouse/schema.js';
import { segmentMembersTable } from '../warehouse/tables.js';

export interface ProfileSample {
  customerId: number;
  vars: Record<string, unknown>;
}

/** The customer values a message template reads, from the warehouse (render previews, test sends). */
export class CampaignProfiles {
  constructor(private readonly warehouse: Warehouse) {}

  /** The given customers, or the first `limit` members of the segment; each with `columns`. */
  async sample(segmentId: string, columns: readonly string[], customerIds: readonly number[] | undefined, limit = 3): Promise<ProfileSample[]> {
    const select = ['p.customer_id', ...columns.map((c) => `p.${ident(c)}`)].join(', ');
    const rows = customerIds
      ? await this.warehouse.query(
          // Whole numbers by construction (Number.isSafeInteger below), so they are spelled out.
          `SELECT ${select} FROM ${PROFILE_TABLE} p WHERE p.customer_id IN (${customerIds.filter(Number.isSafeInteger).join(',') || 'NULL'})
           ORDER BY p.customer_id`,
        )
      : await this.warehouse.query(
          `SELECT ${select} FROM ${segmentMembersTable(segmentId)} m JOIN ${PROFILE_TABLE} p ON p.customer_id = m.customer_id
           ORDER BY m.customer_id LIMIT ${Math.max(1, Math.min(limit, 20))}`,
        );
    return rows.map((row) => {
      const vars: Record<string, unknown> = {};
      // Dates and decimals as the text a customer reads, the same as the ledger's captured JSON.
      for (const c of columns) vars[c] = row[c] === null || row[c] === undefined ? null : String(row[c]);
      return { customerId: Number(row.customer_id), vars };
    });
  }
}
