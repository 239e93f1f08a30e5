import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli.js';
import { SYSTEM_ACTOR, type Actor } from '../security/roles.js';

const USAGE = [
  "segment preview '<condition json>' [--breakdown city,brand] [--sample 10]",
  "segment create <name> '<condition json>'",
].join('\n       ');

function parseCondition(text: string | undefined): unknown {
  if (!text) throw new Error(`usage: ${USAGE}`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`the condition is not JSON: ${(error as Error).message}`);
  }
}

/** Breakdown rows as a table: value, customers, share of the segment. */
function printBreakdown(column: string, counts: Record<string, number>, total: number): void {
  console.log(`\n${column}:`);
  console.table(
    Object.entries(counts).map(([value, n]) => ({ [column]: value, customers: n, share: total > 0 ? `${((100 * n) / total).toFixed(1)}%` : '-' })),
  );
}

/**
 * `npm run quanke -- segment preview '{"field":"arpu","op":"gte","value":100}'`: the count and the
 * breakdown tables an analyst sees in the API. The shell user acts as an admin (sees whole numbers).
 */
export const segmentCommand: CliCommand = {
  summary: 'preview or create a segment from a condition',
  usage: USAGE,
  async run(args, container) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { breakdown: { type: 'string' }, sample: { type: 'string', default: '0' } },
    });
    const actor: Actor = { ...SYSTEM_ACTOR, name: `cli:${process.env.USER ?? 'unknown'}` };
    const [action, ...rest] = positionals;
    try {
      if (action === 'preview') {
        const sampleSize = Number(values.sample);
        if (!Number.isInteger(sampleSize) || sampleSize < 0 || sampleSize > 100) throw new Error('--sample must be 0–100');
        const preview = await container.segments.preview(
          { condition: parseCondition(rest[0]), breakdown: values.breakdown?.split(',').map((s) => s.trim()), sampleSize },
          actor,
        );
        console.log(`count: ${preview.count}  (${preview.elapsedMs} ms)`);
        for (const [column, counts] of Object.entries(preview.breakdown)) printBreakdown(column, counts, preview.count);
        if (preview.sample.length > 0) {
          console.log('\nsample:');
          console.table(preview.sample);
        }
      } else if (action === 'create') {
        const [name, condition] = rest;
        if (!name) throw new Error(`usage: ${USAGE}`);
        const segment = await container.segments.create({ name, condition: parseCondition(condition) }, actor);
        console.log(`segment ${segment.id} "${segment.name}": ${segment.count} members (${segment.status})`);
      } else {
        throw new Error(`usage: ${USAGE}`);
      }
    } catch (error) {
      for (const p of ((error as { errors?: Array<{ path: string; message: string }> }).errors ?? []).slice(0, 20)) {
        console.error(`  ${p.path}: ${p.message}`);
      }
      throw error;
    }
  },
};
