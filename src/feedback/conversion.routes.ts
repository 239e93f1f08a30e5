import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Container } from '../container.js';
import { withMultipartUpload } from '../uploads/upload-file.js';
import { conversionReport, conversionsBody } from './conversion.schemas.js';

/** 转化 (orders) routes: operators and admins report orders; the service stores them idempotently. */
export const conversionRoutes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  const { conversions, config } = container;
  const tags = ['feedback'];

  app.post(
    '/v1/feedback/conversions',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        summary: 'Record orders (idempotent by orderId: a known order is counted as a duplicate)',
        body: conversionsBody,
        response: { 200: conversionReport },
      },
    },
    async (request) => conversions.record(request.body),
  );

  app.post(
    '/v1/feedback/conversions/upload',
    {
      config: { access: 'operator' },
      schema: {
        tags,
        summary:
          'Record orders from a CSV (multipart, field "file"; columns order_id, msisdn and/or customer_id, product_id, ordered_at, revenue): checked whole, stored atomically',
        response: { 200: conversionReport },
      },
    },
    async (request) =>
      withMultipartUpload(request, { dir: config.UPLOAD_DIR, maxBytes: config.UPLOAD_MAX_BYTES }, ({ file }) =>
        conversions.upload(file.path, file.filename),
      ),
  );
};
