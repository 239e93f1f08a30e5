/**
 * The console's typed client of the REST API: every call the pages make goes through here, with
 * the key from session storage. Answer types come from the server's own zod schemas (type-only
 * imports, erased from the bundle), so a changed API breaks `npm run typecheck`, not the browser.
 */
import type { z } from 'zod';
import type { Condition } from '../conditions/condition.schemas.js';
import type { segmentView, previewAnswer, membersAnswer } from '../segments/segment.schemas.js';
import type { ruleView } from '../rules/rule.schemas.js';
import type { listView, entriesAnswer, addAnswer, uploadAnswer } from '../lists/list.schemas.js';
import type { policyView, policiesAnswer, PolicyStep } from '../exclusions/policy.schemas.js';
import type { campaignView, renderAnswer, CreateCampaignInput } from '../campaigns/campaign.schemas.js';
import type { runView, explainAnswer } from '../exclusions/targeting.schemas.js';
import type { CampaignReport, SendsReport, GridsReport } from '../reports/report.schemas.js';
import type { keyView, createdKeyView } from '../security/key.schemas.js';
import type { Role } from '../security/roles.js';

export type { Condition, PolicyStep, CampaignReport, SendsReport, GridsReport, Role };
export type Segment = z.output<typeof segmentView>;
export type Preview = z.output<typeof previewAnswer>;
export type Members = z.output<typeof membersAnswer>;
export type Rule = z.output<typeof ruleView>;
export type SpecialList = z.output<typeof listView>;
export type ListEntries = z.output<typeof entriesAnswer>;
export type ListAdded = z.output<typeof addAnswer>;
export type ListUploaded = z.output<typeof uploadAnswer>;
export type Policy = z.output<typeof policyView>;
export type PolicySummary = z.output<typeof policiesAnswer>['policies'][number];
export type Campaign = z.output<typeof campaignView>;
export type CampaignInput = z.input<typeof import('../campaigns/campaign.schemas.js').createCampaignBody>;
export type Rendered = z.output<typeof renderAnswer>;
export type TargetingRun = z.output<typeof runView>;
export type Explain = z.output<typeof explainAnswer>;
export type ApiKey = z.output<typeof keyView>;
export type CreatedKey = z.output<typeof createdKeyView>;
export type { CreateCampaignInput };

export interface Column {
  name: string;
  type: 'bigint' | 'integer' | 'decimal' | 'varchar' | 'date' | 'boolean';
  label: string;
  required: boolean;
  values?: string[];
  personal?: 'msisdn' | 'name';
}
export interface Dataset {
  name: string;
  label: string;
  key: string[];
  columns: Column[];
  rowCount: number;
  snapshotVersion: number;
  importedAt: string | null;
}
export interface Gateway {
  name: string;
  protocol: string;
  ratePerSecond: number;
  simulator: boolean;
  status: 'connected' | 'connecting' | 'down';
  lastError?: string;
  updatedAt: string;
  host?: string;
  port?: number;
}
export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actorRole: string;
  action: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  details: unknown;
}
export interface Whoami {
  name: string;
  role: Role;
}

/** A problem+json answer, kept whole so pages can show `errors` with their JSON paths. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: Array<{ path: string; message: string }> = [],
  ) {
    super(detail);
  }
}

const KEY_STORAGE = 'quanke.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY_STORAGE),
  set: (key: string) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

type Query = Record<string, string | number | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function call<T>(method: string, path: string, options: { body?: unknown; form?: FormData; query?: Query; key?: string } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  const key = options.key ?? session.key();
  if (key) headers.authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (options.form) body = options.form;
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(withQuery(path, options.query), { method, headers, body });
  if (response.status === 204) return undefined as T;
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok) {
    if (type.includes('json')) {
      const problem = (await response.json()) as { code?: string; detail?: string; title?: string; errors?: Array<{ path: string; message: string }> };
      throw new ApiError(response.status, problem.code ?? 'ERROR', problem.detail ?? problem.title ?? response.statusText, problem.errors);
    }
    throw new ApiError(response.status, 'ERROR', response.statusText);
  }
  return (type.includes('json') ? await response.json() : await response.text()) as T;
}

/** Downloads a CSV answer (the key travels in a header, so a plain link cannot fetch it). */
async function download(path: string, query: Query, filename: string): Promise<void> {
  const text = await call<string>('GET', path, { query: { ...query, format: 'csv' } });
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const enc = encodeURIComponent;

export const api = {
  whoami: (key?: string) => call<Whoami>('GET', '/v1/whoami', key ? { key } : {}),
  datasets: () => call<{ datasets: Dataset[] }>('GET', '/v1/datasets'),

  rules: () => call<{ rules: Rule[] }>('GET', '/v1/rules'),
  rule: (name: string) => call<Rule>('GET', `/v1/rules/${enc(name)}`),
  saveRule: (name: string, body: { description: string; condition: Condition }) => call<Rule>('PUT', `/v1/rules/${enc(name)}`, { body }),
  deleteRule: (name: string) => call<void>('DELETE', `/v1/rules/${enc(name)}`),

  preview: (condition: Condition, sampleSize = 10) => call<Preview>('POST', '/v1/segments/preview', { body: { condition, sampleSize } }),
  segments: (cursor?: string, limit = 20) => call<{ segments: Segment[]; nextCursor: string | null }>('GET', '/v1/segments', { query: { cursor, limit } }),
  segment: (id: string) => call<Segment>('GET', `/v1/segments/${enc(id)}`),
  createSegment: (name: string, condition: Condition) => call<Segment>('POST', '/v1/segments', { body: { name, condition } }),
  uploadSegment: (name: string, file: File) => {
    const form = new FormData();
    form.append('name', name);
    form.append('file', file);
    return call<Segment>('POST', '/v1/segments/upload', { form });
  },
  members: (id: string, cursor?: string, limit = 20) => call<Members>('GET', `/v1/segments/${enc(id)}/members`, { query: { cursor, limit } }),
  refreshSegment: (id: string) => call<{ before: number; after: number }>('POST', `/v1/segments/${enc(id)}/refresh`),
  deleteSegment: (id: string) => call<void>('DELETE', `/v1/segments/${enc(id)}`),

  lists: () => call<{ lists: SpecialList[] }>('GET', '/v1/lists'),
  createList: (body: { name: string; label: string; description?: string | null; defaultExpiryDays?: number | null }) => call<SpecialList>('POST', '/v1/lists', { body }),
  entries: (list: string, query: { msisdn?: string; cursor?: string; limit?: number }) => call<ListEntries>('GET', `/v1/lists/${enc(list)}/entries`, { query }),
  addEntries: (list: string, body: { msisdns: string[]; reason?: string; expiresAt?: string | null }) => call<ListAdded>('POST', `/v1/lists/${enc(list)}/entries`, { body }),
  removeEntry: (list: string, msisdn: string) => call<unknown>('DELETE', `/v1/lists/${enc(list)}/entries/${enc(msisdn)}`),
  uploadEntries: (list: string, file: File, fields: { reason?: string; expiresAt?: string }) => {
    const form = new FormData();
    if (fields.reason) form.append('reason', fields.reason);
    if (fields.expiresAt) form.append('expiresAt', fields.expiresAt);
    form.append('file', file);
    return call<ListUploaded>('POST', `/v1/lists/${enc(list)}/upload`, { form });
  },

  policies: () => call<{ policies: PolicySummary[] }>('GET', '/v1/exclusion-policies'),
  policy: (name: string) => call<Policy>('GET', `/v1/exclusion-policies/${enc(name)}`),
  savePolicy: (name: string, body: { description?: string | null; steps: PolicyStep[] }) => call<Policy>('PUT', `/v1/exclusion-policies/${enc(name)}`, { body }),

  campaigns: (query: { status?: string; cursor?: string; limit?: number } = {}) =>
    call<{ campaigns: Campaign[]; nextCursor: string | null }>('GET', '/v1/campaigns', { query }),
  campaign: (id: string) => call<Campaign>('GET', `/v1/campaigns/${enc(id)}`),
  createCampaign: (body: CampaignInput) => call<Campaign>('POST', '/v1/campaigns', { body }),
  updateCampaign: (id: string, body: Partial<CampaignInput>) => call<Campaign>('PATCH', `/v1/campaigns/${enc(id)}`, { body }),
  deleteCampaign: (id: string) => call<void>('DELETE', `/v1/campaigns/${enc(id)}`),
  target: (id: string) => call<TargetingRun>('POST', `/v1/campaigns/${enc(id)}/target`),
  funnel: (id: string) => call<Pick<TargetingRun, 'funnel' | 'target' | 'control'> & { runId: string }>('GET', `/v1/campaigns/${enc(id)}/funnel`),
  explain: (id: string, msisdn: string) => call<Explain>('GET', `/v1/campaigns/${enc(id)}/explain`, { query: { msisdn } }),
  render: (id: string) => call<Rendered>('POST', `/v1/campaigns/${enc(id)}/render`, { body: {} }),
  approve: (id: string, note?: string) => call<Campaign>('POST', `/v1/campaigns/${enc(id)}/approve`, { body: note ? { note } : {} }),
  launch: (id: string, at?: string) => call<Campaign>('POST', `/v1/campaigns/${enc(id)}/launch`, { body: at ? { at } : {} }),
  lifecycle: (id: string, action: 'pause' | 'resume' | 'cancel') => call<Campaign>('POST', `/v1/campaigns/${enc(id)}/${action}`, { body: {} }),

  report: (id: string, by?: string) => call<CampaignReport>('GET', `/v1/campaigns/${enc(id)}/report`, { query: { by } }),
  reportCsv: (id: string, by?: string) => download(`/v1/campaigns/${enc(id)}/report`, { by }, `campaign-${id}-report.csv`),
  sends: (query: { from?: string; to?: string; by: string }) => call<SendsReport>('GET', '/v1/reports/sends', { query }),
  sendsCsv: (query: { from?: string; to?: string; by: string }) => download('/v1/reports/sends', query, `sends-by-${query.by}.csv`),
  grids: (query: { from?: string; to?: string }) => call<GridsReport>('GET', '/v1/reports/grids', { query }),
  gridsCsv: (query: { from?: string; to?: string }) => download('/v1/reports/grids', query, 'grids.csv'),

  gateways: () => call<{ gateways: Gateway[] }>('GET', '/v1/gateways'),
  audit: (query: { actor?: string; action?: string; cursor?: string; limit?: number }) =>
    call<{ entries: AuditEntry[]; nextCursor: string | null }>('GET', '/v1/audit', { query }),
  keys: () => call<{ keys: ApiKey[] }>('GET', '/v1/keys'),
  createKey: (body: { name: string; role: Role; expiresAt?: string }) => call<CreatedKey>('POST', '/v1/keys', { body }),
  revokeKey: (id: string) => call<ApiKey>('DELETE', `/v1/keys/${enc(id)}`),
};

/** What each role may use, as src/security/roles.ts grants it (the server still decides). */
const GRANTS: Record<Role, ReadonlyArray<Role>> = {
  analyst: ['analyst'],
  operator: ['analyst', 'operator'],
  scheduler: ['analyst', 'scheduler'],
  admin: ['analyst', 'operator', 'scheduler', 'admin'],
};

export function may(role: Role | undefined, needs: Role): boolean {
  return role !== undefined && GRANTS[role].includes(needs);
}
