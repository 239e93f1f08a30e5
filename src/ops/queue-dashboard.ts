import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { ControllerHandlerReturnType, HTTPStatus, IServerAdapter } from '@bull-board/api/typings/app';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Container } from '../container.js';
import { DASHBOARD_PREFIX } from '../http/plugins/auth.js';
import { toProblem } from '../http/problem.js';

/**
 * The BullMQ dashboard at `/admin/queues`, admins only: the auth plugin marks the routes this
 * plugin registers as `admin`, and accepts the key as an HTTP Basic password so a browser can
 * open the page.
 */
export async function queueDashboard(app: FastifyInstance, opts: { container: Container }): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PREFIX);
  createBullBoard({
    queues: opts.container.queues.all().map((queue) => new BullMQAdapter(queue)),
    // @bull-board/fastify 9.10.1 pins @bull-board/api 9.10.1 while the app has 9.10.2 (no 9.10.2
    // adapter exists): the two copies' types differ only in private members, and at run time the
    // adapter only routes, so the newer board is handed the older adapter as is.
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'Quanke queues' } },
  });
  // bull-board's own handler echoes error messages and, in development, stack traces; ours
  // answers problem+json and keeps 5xx details in the log.
  serverAdapter.setErrorHandler((error: Error): ControllerHandlerReturnType => {
    const problem = toProblem(error);
    if (problem.status >= 500) opts.container.logger.error({ err: error }, 'queue dashboard failed');
    // The adapter passes any status through; its type lists only the ones bull-board itself uses.
    return { status: problem.status as HTTPStatus, body: problem };
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PREFIX });
}
