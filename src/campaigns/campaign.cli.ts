import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import type { RunningApi } from '../cli/running-api.js';
import { cliActor } from '../cli/actor.js';
import { AppError } from '../http/errors.js';
import type { CampaignService } from './campaign.service.js';
import { campaignStatusSchema, launchBody, type CampaignView } from './campaign.schemas.js';
import { campaignHeadline, printCampaign, printCampaignList, printProgress } from './campaign.print.js';
import { watchCampaign } from './campaign.watch.js';

const USAGE = [
  'campaign launch <id> [--at 2026-12-01T09:00:00+08:00] [--no-watch]',
  'campaign pause <id>',
  'campaign resume <id>',
  'campaign cancel <id>',
  'campaign status <id> [--watch]',
  'campaign list [--status sending] [--limit 50]',
].join('\n       ');

/** What the commands do to campaigns, the same whether the running API or this process does it. */
interface CampaignClient {
  get(id: string): Promise<CampaignView>;
  list(query: { status?: CampaignView['status']; limit: number }): Promise<CampaignView[]>;
  launch(id: string, at: string | undefined): Promise<CampaignView>;
  pause(id: string): Promise<CampaignView>;
  resume(id: string): Promise<CampaignView>;
  cancel(id: string): Promise<CampaignView>;
}

type CampaignRequest =
  | { action: 'launch'; id: string; at: string | undefined; watch: boolean }
  | { action: 'pause' | 'resume' | 'cancel'; id: string }
  | { action: 'status'; id: string; watch: boolean }
  | { action: 'list'; status: CampaignView['status'] | undefined; limit: number };

function usageError(): AppError {
  return new AppError('VALIDATION', `usage: ${USAGE}`);
}

function parseRequest(args: string[]): CampaignRequest {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      at: { type: 'string' },
      watch: { type: 'boolean', default: false },
      'no-watch': { type: 'boolean', default: false },
      status: { type: 'string' },
      limit: { type: 'string', default: '50' },
    },
  });
  const [action, id, ...extra] = positionals;
  if (extra.length > 0) throw usageError();
  if (action === 'list') {
    if (id) throw usageError();
    const status = values.status === undefined ? undefined : campaignStatusSchema.safeParse(values.status);
    if (status && !status.success) throw new AppError('VALIDATION', `--status must be one of ${campaignStatusSchema.options.join(', ')}`);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new AppError('VALIDATION', '--limit must be 1–200');
    return { action, status: status?.data, limit };
  }
  if (!id) throw usageError();
  switch (action) {
    case 'launch': {
      const body = launchBody.safeParse(values.at === undefined ? {} : { at: values.at });
      if (!body.success) throw new AppError('VALIDATION', `--at must be an ISO date-time with an offset, e.g. 2026-12-01T09:00:00+08:00`);
      return { action, id, at: body.data.at, watch: !values['no-watch'] };
    }
    case 'pause':
    case 'resume':
    case 'cancel':
      return { action, id };
    case 'status':
      return { action, id, watch: values.watch };
    default:
      throw usageError();
  }
}

/** Ctrl-C while watching stops the watch, not the campaign. */
async function watch(client: CampaignClient, id: string): Promise<CampaignView> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const last = await watchCampaign(() => client.get(id), { signal: stop.signal });
    if (stop.signal.aborted) console.log(`stopped watching; the campaign carries on (campaign status ${id} --watch)`);
    return last;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

async function execute(request: CampaignRequest, client: CampaignClient): Promise<void> {
  switch (request.action) {
    case 'list':
      printCampaignList(await client.list({ ...(request.status ? { status: request.status } : {}), limit: request.limit }));
      return;
    case 'status': {
      const view = await client.get(request.id);
      if (!request.watch || !view.progress) return printCampaign(view);
      const last = await watch(client, request.id);
      console.log(campaignHeadline(last));
      if (last.progress) printProgress(last.progress);
      return;
    }
    case 'launch': {
      const launched = await client.launch(request.id, request.at);
      console.log(campaignHeadline(launched));
      if (launched.status === 'scheduled') console.log(`  starts at ${launched.sendAt}; follow it with: campaign status ${launched.id} --watch`);
      if (!request.watch || launched.status === 'scheduled') {
        if (launched.progress) printProgress(launched.progress);
        return;
      }
      const last = await watch(client, request.id);
      console.log(campaignHeadline(last));
      if (last.progress) printProgress(last.progress);
      return;
    }
    case 'pause':
    case 'resume':
    case 'cancel': {
      const view = await client[request.action](request.id);
      console.log(campaignHeadline(view));
      if (view.progress) printProgress(view.progress);
      return;
    }
  }
}

/** This process (launch needs it to hold the warehouse: it freezes from it), acting as the shell user. */
function directClient(campaigns: CampaignService): CampaignClient {
  const actor = cliActor();
  return {
    get: (id) => campaigns.get(id),
    list: (query) => campaigns.list(query),
    launch: (id, at) => campaigns.launch(id, at, actor),
    pause: (id) => campaigns.pause(id, actor),
    resume: (id) => campaigns.resume(id, actor),
    cancel: (id) => campaigns.cancel(id, actor),
  };
}

/** The running API, which owns the warehouse, acting as the key's holder. */
function apiClient(api: RunningApi): CampaignClient {
  const path = (id: string, action = '') => `/v1/campaigns/${encodeURIComponent(id)}${action}`;
  return {
    get: (id) => api.json<CampaignView>('GET', path(id)),
    list: async ({ status, limit }) => {
      const query = new URLSearchParams({ limit: String(limit), ...(status ? { status } : {}) });
      return (await api.json<{ campaigns: CampaignView[] }>('GET', `/v1/campaigns?${query}`)).campaigns;
    },
    launch: (id, at) => api.json<CampaignView>('POST', path(id, '/launch'), at ? { at } : {}),
    pause: (id) => api.json<CampaignView>('POST', path(id, '/pause'), {}),
    resume: (id) => api.json<CampaignView>('POST', path(id, '/resume'), {}),
    cancel: (id) => api.json<CampaignView>('POST', path(id, '/cancel'), {}),
  };
}

/**
 * `npm run quanke -- campaign launch <id>` and friends: what a scheduler does, with a live progress
 * bar. Launch freezes the target from the warehouse, so the command goes through the running API
 * when one answers and opens the warehouse itself only when none does (then `npm run worker`
 * must be running for anything to be sent).
 */
export const campaignCommand: CliCommand = {
  summary: 'launch, pause, resume, cancel, watch and list campaigns',
  usage: USAGE,
  needs: 'warehouse',
  async run(args, container) {
    await execute(parseRequest(args), directClient(container.campaigns));
  },
  async runViaApi(args, api) {
    await execute(parseRequest(args), apiClient(api));
  },
  // Everything but launch reads and moves ledger and campaign rows only.
  runsOnCore: (args) => parseRequest(args).action !== 'launch',
  async runOnCore(args, core) {
    await execute(parseRequest(args), directClient(core.campaigns));
  },
};
