import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import { SYSTEM_ACTOR, type Actor } from '../security/roles.js';
import type { Preview } from './segment.service.js';

const USAGE = [
  "segment preview '<condition json>' [--breakdown city,brand] [--sample 10]",
  "segment create <name> '<condition json>'",
].join('\n       ');

type SegmentRequest =
  | { action: 'preview'; body: { condition: unknown; breakdown?: string[]; sampleSize: number } }
  | { action: 'create'; body: { name: string; condition: unknown } };

function parseCondition(text: string | undefined): unknown {
  if (!text) throw new Error(`usage: ${USAGE}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the condition is not JSON: ${(error as Error).message}`);
  }
}

function parseRequest(args: string[]): SegmentRequest {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { breakdown: { type: 'string' }, sample: { type: 'string', default: '0' } },
  });
  const [action, ...rest] = positionals;
  if (action === 'preview') {
    const sampleSize = Number(values.sample);
    if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > 100) throw new Error('--sample must be 0–100');
    const breakdown = values.breakdown?.split(',').map((s) => s.trim());
    return { action, body: { condition: parseCondition(rest[0]), ...(breakdown ? { breakdown } : {}), sampleSize } };
  }
  if (action === 'create' && rest[0]) return { action, body: { name: rest[0], condition: parseCondition(rest[1]) } };
  throw new Error(`usage: ${USAGE}`);
}

/** Breakdown rows as a table: value, customers, share of the segment. */
function printBreakdown(column: string, counts: Record<string, number>, total: number): void {
  console.log(`\n${column}:`);
  console.table(
    Object.entries(counts).map(([value, n]) => ({ [column]: value, customers: n, share: total > 0 ? `${((100 * n) / total).toFixed(1)}%` : '-' })),
  );
}

function printPreview(preview: Pick<Preview, 'count' | 'elapsedMs' | 'breakdown' | 'sample'>): void {
  console.log(`count: ${preview.count}  (${preview.elapsedMs} ms)`);
  for (const [column, counts] of Object.entries(preview.breakdown)) printBreakdown(column, counts, preview.count);
  if (preview.sample.length > 0) {
    console.log('\nsample:');
    console.table(preview.sample);
  }
}

function printCreated(segment: { id: string; name: string; count: number | null; status: string }): void {
  console.log(`segment ${segment.id} "${segment.name}": ${segment.count} members (${segment.status})`);
}

/**
 * `npm run quanke -- segment preview '{"field":"arpu","op":"gte","value":100}'`: the count and the
 * breakdown tables an analyst sees in the API. Directly on the warehouse, the shell user acts as an
 * admin; through the API, as the key's holder.
 */
export const segmentCommand: CliCommand = {
  summary: 'preview or create a segment from a condition',
  usage: USAGE,
  needs: 'warehouse',
  async run(args, container) {
    const request = parseRequest(args);
    const actor: Actor = { ...SYSTEM_ACTOR, name: `cli:${process.env.USER ?? 'unknown'}` };
    if (request.action === 'preview') printPreview(await container.segments.preview(request.body, actor));
    else printCreated(await container.segments.create(request.body, actor));
  },
  async runViaApi(args, api) {
    const request = parseRequest(args);
    if (request.action === 'preview') printPreview(await api.json<Preview>('POST', '/v1/segments/preview', request.body));
    else printCreated(await api.json('POST', '/v1/segments', request.body));
  },
};
