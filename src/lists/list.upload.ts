import { randomUUID } from 'node:crypto';
import { loadPhoneNumbers, type PhoneNumberReport } from '../uploads/phone-numbers.js';
import type { Warehouse } from '../warehouse/duckdb.js';

/** A phone-number file read and checked: its report, and its distinct valid numbers. */
export interface PhoneNumberFile {
  report: PhoneNumberReport;
  numbers: string[];
}

/** Reads an uploaded file of phone numbers; the list service receives one of these. */
export interface PhoneNumberFileReader {
  read(filePath: string): Promise<PhoneNumberFile>;
}

/**
 * Parses with the same reader as segment uploads (same normalisation, same report), through a
 * private TEMP table on the warehouse's write connection, then hands the numbers back: list
 * entries live in Postgres, so DuckDB is only the parser's scratch space here.
 */
export class WarehousePhoneNumberReader implements PhoneNumberFileReader {
  constructor(
    private readonly warehouse: Warehouse,
    private readonly pattern: string,
  ) {}

  read(filePath: string): Promise<PhoneNumberFile> {
    const table = `_list_upload_${randomUUID().replaceAll('-', '')}`;
    return this.warehouse.write(async (c) => {
      try {
        const report = await loadPhoneNumbers(c, filePath, { pattern: this.pattern, table, temporary: true });
        const result = await c.runAndReadAll(`SELECT msisdn FROM temp.main.${table} ORDER BY msisdn`);
        const numbers = (result.getColumnsJS()[0] ?? []) as string[];
        return { report, numbers };
      } finally {
        await c.run(`DROP TABLE IF EXISTS temp.main.${table}`);
      }
    });
  }
}
