import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { ident } from '../warehouse/duckdb.js';
import { columnTypeSchema, personalKindSchema } from './catalog.js';

const datasetView = z.object({
  name: z.string(),
  label: z.string(),
  key: z.array(z.string()),
  columns: z.array(
    z.object({
      name: z.string(),
      type: columnTypeSchema,
      label: z.string(),
      required: z.boolean(),
      values: z.array(z.string()).optional(),
      personal: personalKindSchema.optional().describe('personal data: masked, and compared only as far as the role sees it'),
    }),
  ),
  rowCount: z.number(),
  snapshotVersion: z.number(),
  importedAt: z.string().nullable(),
});

export const catalogRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { catalog, warehouse } = container;

  app.get(
    '/v1/datasets',
    {
      config: { access: 'analyst' },
      schema: {
        tags: ['catalog'],
        summary: 'The warehouse catalog with row counts and snapshot versions',
        response: { 200: z.object({ datasets: z.array(datasetView) }) },
      },
    },
    async () => {
      // One query: every dataset's count beside its snapshot row, read in one consistent snapshot.
      const counts = catalog.datasets
        .map((d) => `SELECT '${d.name}' AS dataset, count(*) AS row_count FROM ${ident(d.name)}`)
        .join(' UNION ALL ');
      const rows = await warehouse.query<{ dataset: string; row_count: number; version: number | null; imported_at: Date | null }>(
        `SELECT c.dataset, c.row_count, s.version, s.imported_at FROM (${counts}) c LEFT JOIN _snapshots s USING (dataset)`,
      );
      const byName = new Map(rows.map((r) => [r.dataset, r]));
      return {
        datasets: catalog.datasets.map((d) => {
          const r = byName.get(d.name);
          return {
            name: d.name,
            label: d.label,
            key: d.key,
            columns: d.columns.map((c) => ({
              name: c.name,
              type: c.type,
              label: c.label,
              required: c.required ?? false,
              ...(c.values ? { values: c.values } : {}),
              ...(c.personal ? { personal: c.personal } : {}),
            })),
            rowCount: r?.row_count ?? 0,
            snapshotVersion: r?.version ?? 0,
            importedAt: r?.imported_at ? new Date(r.imported_at).toISOString() : null,
          };
        }),
      };
    },
  );
};
