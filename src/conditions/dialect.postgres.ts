import type { ColumnType } from '../catalog/catalog.js';
import { safeIdent, type Dialect, type ParamValue } from './dialect.js';

/** Portable type names Postgres spells differently. */
function postgresType(type: string): string {
  return type.replace(/^DOUBLE\b/, 'DOUBLE PRECISION');
}

/**
 * The condition language, previews, the funnel and the control draw on PostgreSQL 13+ (and on
 * what speaks its SQL: Citus distributes the same statements). node-postgres binds a JS array as
 * a Postgres array literal, so a list parameter is just the array.
 */
export const postgresDialect: Dialect<unknown> = {
  name: 'postgres',
  placeholder: (index) => `$${index}`,
  bind: (value: ParamValue) => (Array.isArray(value) ? [...value] : value),
  cast: (expression, type) => `CAST(${expression} AS ${postgresType(type)})`,
  // As in DuckDB: a decimal column is compared with the value as a double, so 99.999 is not
  // rounded to the column's scale before the comparison.
  paramType: (type: ColumnType) => {
    switch (type) {
      case 'bigint':
        return 'BIGINT';
      case 'integer':
        return 'INTEGER';
      case 'decimal':
        return 'DOUBLE';
      case 'varchar':
        return 'VARCHAR';
      case 'date':
        return 'DATE';
      case 'boolean':
        return 'BOOLEAN';
    }
  },
  sumType: (type) => (type === 'decimal' ? 'DECIMAL(18,2)' : 'BIGINT'),
  quoteIdent: safeIdent,
  // Both are plain functions of their arguments: `LIKE` would need the pattern's % and _ escaped.
  startsWith: (expression, prefix) => `starts_with(${expression}, ${prefix})`,
  contains: (expression, fragment) => `(strpos(${expression}, ${fragment}) > 0)`,
  inList: (expression, listParam) => `${expression} = ANY(${listParam})`,
  // Postgres' least/greatest ignore NULL arguments too.
  leastIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `least(${expressions.join(', ')})`),
  greatestIgnoringNulls: (expressions) => (expressions.length === 1 ? expressions[0]! : `greatest(${expressions.join(', ')})`),
  listType: (elementType) => `${elementType}[]`,
  // any_value() arrived in Postgres 16; min() is as good for "some member of the group".
  anyValue: (expression) => `min(${expression})`,
  xor: (a, b) => `(${a} # ${b})`,
  groupingSets: true,
};

/**
 * Postgres SQL for Citus: the same statements, except that a multi-shard query may not use
 * GROUPING SETS (citusdata/citus#2219), so the preview groups once per breakdown. Everything else
 * pushes down to the shards when customer_profile and the tables joined to it are distributed by
 * customer_id and co-located, and lists are reference tables (see the README's "Scaling").
 */
export const citusDialect: Dialect<unknown> = { ...postgresDialect, name: 'citus', groupingSets: false };
