import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Container } from '../../container.js';
import { AppError } from '../../http/errors.js';
import { gatewayName } from '../gateway.schemas.js';
import { Mm7Gateway } from './mm7.gateway.js';

// A DeliveryReportReq is a few KB; some MMSCs wrap it in multipart/related, still small.
const CALLBACK_BODY_LIMIT = 256 * 1024;
const SOAP_CONTENT_TYPES = ['text/xml', 'application/xml', 'application/soap+xml', 'multipart/related'];

/**
 * The MMSC's calls to us (MM7 is two-way): delivery reports, posted without an API key, so each is
 * authenticated by the callback token of the MM7 gateway it names. Unknown gateways, gateways of
 * another protocol and wrong tokens all get the same 401, so the route tells a stranger nothing.
 */
export const mm7Routes: FastifyPluginAsyncZod<{ container: Container }> = async (app, { container }) => {
  // Scoped to this plugin: the SOAP body reaches the handler as bytes, for the MM7 codec to read.
  app.addContentTypeParser(SOAP_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: CALLBACK_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.post(
    '/v1/feedback/mm7',
    {
      config: { access: 'public' },
      bodyLimit: CALLBACK_BODY_LIMIT,
      schema: {
        tags: ['feedback'],
        summary: 'MM7 DeliveryReportReq from an MMSC (SOAP; text/xml or multipart/related), answered DeliveryReportRsp 1000',
        description:
          'Called by the MMSC, not by API clients: no API key, but the callback token of the MM7 gateway named in `gateway`, ' +
          'as the password of HTTP basic authentication or as a bearer token (401 otherwise). An envelope that cannot be read ' +
          'is answered with a SOAP fault (HTTP 500, status 4004).',
        querystring: z.object({ gateway: gatewayName.describe('the MM7 gateway whose MMSC reports') }).strict(),
      },
    },
    async (request, reply) => {
      const { gateway: name } = request.query;
      const gateway = await mm7Gateway(container, name);
      if (!gateway?.acceptsCallbackCredentials(request.headers.authorization)) {
        request.log.warn({ gateway: name, known: gateway !== null }, 'mm7 callback refused');
        void reply.header('WWW-Authenticate', 'Basic realm="quanke-mm7"');
        throw new AppError('UNAUTHENTICATED', 'The MM7 callback credentials do not match');
      }
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const answer = gateway.handleDeliveryReport(request.headers['content-type'], body);
      return reply.code(answer.statusCode).type(answer.contentType).send(answer.body);
    },
  );
};

/** The gateway's MM7 adapter, or null when there is no such gateway or it is not MM7. */
async function mm7Gateway(container: Pick<Container, 'gateways'>, name: string): Promise<Mm7Gateway | null> {
  try {
    const adapter = await container.gateways.adapter(name);
    return adapter instanceof Mm7Gateway ? adapter : null;
  } catch (error) {
    if (error instanceof AppError && (error.code === 'NOT_FOUND' || error.code === 'NOT_READY')) return null;
    throw error;
  }
}
