import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { campaignReportCsv, gridsReportCsv, sendsReportCsv } from './report.csv.js';
import { campaignReport, formatQuery, gridsReport, reportTime, sendGrouping, sendsReport } from './report.schemas.js';

const CSV = 'text/csv; charset=utf-8';
const attachment = (name: string) => `attachment; filename="${name}.csv"`;

/** 营销案实施效果分析, 群发情况汇总, 网格: analysts and up; JSON, or `?format=csv`. */
export const reportRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { reports } = container;
  const tags = ['reports'];
  const range = { from: reportTime.optional().describe('default: 30 days before `to`'), to: reportTime.optional().describe('exclusive; default: now') };

  app.get(
    '/v1/campaigns/:id/report',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: 'Effectiveness of a launched campaign: funnel, target and control, uplift (z-test), revenue, cost; optional breakdown by a customers column',
        params: z.object({ id: z.uuid() }),
        querystring: z.object({ by: z.string().min(1).max(64).optional().describe('a customers column: city, county, grid_id, brand, …'), format: formatQuery }),
        response: { 200: campaignReport.or(z.string()) },
        produces: ['application/json', 'text/csv'],
      },
    },
    async (request, reply) => {
      const report = await reports.campaignReport(request.params.id, request.query.by, request.actor.role);
      return request.query.format === 'csv' ? reply.type(CSV).header('content-disposition', attachment(`campaign-${report.campaign.id}-report`)).send(campaignReportCsv(report)) : report;
    },
  );

  app.get(
    '/v1/reports/sends',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: 'Send summary (群发情况汇总): target messages by day, gateway, error code or campaign',
        querystring: z.object({ ...range, by: sendGrouping.default('day'), format: formatQuery }),
        response: { 200: sendsReport.or(z.string()) },
        produces: ['application/json', 'text/csv'],
      },
    },
    async (request, reply) => {
      const { from, to, by, format } = request.query;
      const report = await reports.sendsReport({ ...(from ? { from } : {}), ...(to ? { to } : {}) }, by);
      return format === 'csv' ? reply.type(CSV).header('content-disposition', attachment(`sends-by-${by}`)).send(sendsReportCsv(report)) : report;
    },
  );

  app.get(
    '/v1/reports/grids',
    {
      config: { access: 'analyst' },
      schema: {
        tags,
        summary: 'Per grid (网格) with county and city: campaigns, messages, delivered, conversions, revenue, uplift where a control group exists',
        querystring: z.object({ ...range, format: formatQuery }),
        response: { 200: gridsReport.or(z.string()) },
        produces: ['application/json', 'text/csv'],
      },
    },
    async (request, reply) => {
      const { from, to, format } = request.query;
      const report = await reports.gridsReport({ ...(from ? { from } : {}), ...(to ? { to } : {}) });
      return format === 'csv' ? reply.type(CSV).header('content-disposition', attachment('grids')).send(gridsReportCsv(report)) : report;
    },
  );
};
