import type pg from 'pg';
import type { Dialect } from '../conditions/dialect.js';
import { postgresDialect } from '../conditions/dialect.postgres.js';
import { SqlParams } from '../conditions/params.js';
import { PROFILE_TABLE } from '../warehouse/schema.js';
import { previewQuery, readPreviewRows } from './preview.query.js';
import type { CustomerPredicate, PreviewCounts, PreviewRequest } from './segment.engine.js';

/**
 * Segment previews and member lists on a Postgres copy of the warehouse (`copyWarehouseToPostgres`,
 * session on its schema): the same compiled conditions and the same preview statement as the
 * DuckDB engine, through the Postgres dialect. What the cross-engine tests and the bench's
 * same-work baseline run; Citus runs these statements unchanged on a distributed profile.
 */
export class PostgresSegmentEngine {
  /** `dialect`: postgresDialect, or citusDialect on a Citus coordinator. */
  constructor(
    private readonly client: pg.ClientBase,
    private readonly dialect: Dialect<unknown> = postgresDialect,
  ) {}

  async preview(condition: CustomerPredicate, request: PreviewRequest): Promise<PreviewCounts> {
    const params = new SqlParams(this.dialect);
    const sql = previewQuery(condition.predicate(params, 'c'), request, params);
    const { rows } = await this.client.query<Record<string, unknown>>(sql, params.values);
    const { count, breakdown, sampleIds } = readPreviewRows(rows, request);
    const sample = count === 0 || sampleIds.length === 0 ? [] : await this.rowsById(sampleIds, request.sampleColumns);
    return { count, breakdown, sample };
  }

  /** Ids of every customer the condition matches, ascending. */
  async members(condition: CustomerPredicate): Promise<number[]> {
    const params = new SqlParams(this.dialect);
    const where = condition.predicate(params, 'c');
    const { rows } = await this.client.query<{ customer_id: string }>(
      `SELECT c.customer_id FROM ${PROFILE_TABLE} c WHERE ${where} ORDER BY 1`,
      params.values,
    );
    return rows.map((r) => Number(r.customer_id));
  }

  private async rowsById(ids: number[], columns: string[]): Promise<Record<string, unknown>[]> {
    const list = columns.map((col) => this.dialect.quoteIdent(col)).join(', ');
    const { rows } = await this.client.query(`SELECT ${list} FROM ${PROFILE_TABLE} WHERE customer_id = ANY($1::BIGINT[]) ORDER BY customer_id`, [ids]);
    return rows;
  }
}
