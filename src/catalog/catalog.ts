import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Logical column types; `sqlType` maps them to the warehouse. */
export const columnTypeSchema = z.enum(['bigint', 'integer', 'decimal', 'varchar', 'date', 'boolean']);
export type ColumnType = z.infer<typeof columnTypeSchema>;

/**
 * A column that holds a person's data, masked for roles that do not see it whole (src/security/mask.ts)
 * and compared in conditions only in ways that cannot reveal what the mask hides (src/conditions/check.ts).
 */
export const personalKindSchema = z.enum(['msisdn', 'name']);
export type PersonalKind = z.infer<typeof personalKindSchema>;

const identifier = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _ only');

export const columnSchema = z.object({
  name: identifier,
  type: columnTypeSchema,
  label: z.string().min(1),
  /** A value must be present (import rejects an empty field). */
  required: z.boolean().optional(),
  /** Allowed values of a code column. */
  values: z.array(z.string()).nonempty().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  maxLength: z.number().int().positive().optional(),
  pattern: z.string().optional(),
  /** A month column: every value must be the first day of its month. */
  firstOfMonth: z.boolean().optional(),
  /** Personal data, and which kind: it decides the mask and the comparisons other roles may make. */
  personal: personalKindSchema.optional(),
});
export type Column = z.infer<typeof columnSchema>;

export const datasetSchema = z.object({
  name: identifier,
  label: z.string().min(1),
  /** Columns that identify a row; duplicates are rejected at import. Empty: no key. */
  key: z.array(identifier),
  columns: z.array(columnSchema).nonempty(),
});
export type Dataset = z.infer<typeof datasetSchema>;

export const catalogFileSchema = z.object({ datasets: z.array(datasetSchema).nonempty() });

export function sqlType(type: ColumnType): string {
  switch (type) {
    case 'bigint':
      return 'BIGINT';
    case 'integer':
      return 'INTEGER';
    case 'decimal':
      return 'DECIMAL(10,2)';
    case 'varchar':
      return 'VARCHAR';
    case 'date':
      return 'DATE';
    case 'boolean':
      return 'BOOLEAN';
  }
}

/**
 * The warehouse catalog: which datasets exist, their columns, types and labels. It is data
 * (telecom.catalog.json plus an optional extension file), so condition fields and imports are
 * validated against whatever the operator's warehouse really has.
 */
export class Catalog {
  private readonly byName: Map<string, Dataset>;

  constructor(readonly datasets: readonly Dataset[]) {
    this.byName = new Map(datasets.map((d) => [d.name, d]));
    for (const d of datasets) {
      const names = new Set(d.columns.map((c) => c.name));
      for (const k of d.key) if (!names.has(k)) throw new Error(`catalog: ${d.name}.key names unknown column ${k}`);
    }
    const customers = this.byName.get('customers');
    if (!customers?.columns.some((c) => c.name === 'customer_id') || !customers.columns.some((c) => c.name === 'msisdn')) {
      throw new Error('catalog: a customers dataset with customer_id and msisdn is required');
    }
  }

  dataset(name: string): Dataset | undefined {
    return this.byName.get(name);
  }

  column(dataset: string, column: string): Column | undefined {
    return this.byName.get(dataset)?.columns.find((c) => c.name === column);
  }

  /** Datasets with one or more rows per customer (`exists` and `aggregate` may target them). */
  relatedToCustomers(): Dataset[] {
    return this.datasets.filter((d) => d.name !== 'customers' && d.columns.some((c) => c.name === 'customer_id'));
  }
}

const DEFAULT_CATALOG = new URL('./telecom.catalog.json', import.meta.url);

/**
 * The default telecom catalog, optionally extended by a file of the same shape: new datasets are
 * added, and columns of an existing dataset are appended.
 */
export function loadCatalog(extensionPath?: string): Catalog {
  const base = catalogFileSchema.parse(JSON.parse(readFileSync(DEFAULT_CATALOG, 'utf8')));
  if (!extensionPath) return new Catalog(base.datasets);
  const extension = catalogFileSchema.parse(JSON.parse(readFileSync(extensionPath, 'utf8')));
  const merged = new Map(base.datasets.map((d) => [d.name, d]));
  for (const d of extension.datasets) {
    const existing = merged.get(d.name);
    if (!existing) merged.set(d.name, d);
    else {
      const known = new Set(existing.columns.map((c) => c.name));
      const extra = d.columns.filter((c) => !known.has(c.name));
      merged.set(d.name, { ...existing, columns: [...existing.columns, ...extra] as Dataset['columns'] });
    }
  }
  return new Catalog([...merged.values()]);
}
