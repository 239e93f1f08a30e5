import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import { cliActor } from '../cli/actor.js';
import { AppError, formatJsonPath } from '../http/errors.js';
import { addEntriesBody } from './list.schemas.js';
import type { EntryView } from './list.service.js';

const usage = [
  'list show <type> <msisdn>',
  'list add <type> <msisdn…> [--reason "…"] [--expires 2027-01-01T00:00:00+08:00|never]',
  'list remove <type> <msisdn>',
].join('\n       ');

function describeEntry(list: string, entry: EntryView): string {
  const expiry = entry.expiresAt ? `${entry.expired ? 'expired' : 'expires'} ${entry.expiresAt}` : 'never expires';
  const reason = entry.reason ? `, reason ${JSON.stringify(entry.reason)}` : '';
  return `${entry.msisdn} is on ${list} (${expiry}${reason}; added by ${entry.createdBy} at ${entry.createdAt} via ${entry.source}, last changed by ${entry.updatedBy} at ${entry.updatedAt})`;
}

/** Special lists from the shell: Postgres only, so it works while the API serves. */
export const listCommand: CliCommand = {
  summary: 'show, add and remove numbers on a special list (blacklist, greylist, …)',
  usage,
  needs: 'core',
  async run(args, container) {
    const [sub, ...rest] = args;
    const actor = cliActor();
    switch (sub) {
      case 'show': {
        const [type, msisdn, ...extra] = rest;
        if (!type || !msisdn || extra.length > 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        const page = await container.lists.entries(type, { msisdn, limit: 1 }, actor);
        const entry = page.entries[0];
        if (!entry) throw new AppError('NOT_FOUND', `${msisdn} is not on the ${page.list} list`);
        console.log(describeEntry(page.list, entry));
        return;
      }
      case 'add': {
        const { values, positionals } = parseArgs({
          args: rest,
          options: { reason: { type: 'string' }, expires: { type: 'string' } },
          allowPositionals: true,
          strict: true,
        });
        const [type, ...msisdns] = positionals;
        if (!type || msisdns.length === 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        // The body of POST /v1/lists/:type/entries, so the shell and the API accept the same input.
        const parsed = addEntriesBody.safeParse({ msisdns, reason: values.reason, expiresAt: values.expires === 'never' ? null : values.expires });
        if (!parsed.success) {
          const flag = (path: PropertyKey[]) => (path[0] === 'expiresAt' ? '--expires' : path[0] === 'reason' ? '--reason' : formatJsonPath(path));
          throw new AppError('VALIDATION', `${parsed.error.issues.map((i) => `${flag(i.path)}: ${i.message}`).join('; ')}\nusage: ${usage}`);
        }
        const { reason, expiresAt } = parsed.data;
        const outcome = await container.lists.addEntries(
          type,
          parsed.data.msisdns,
          // The entry's source is the service interface (the audit row names the shell user).
          { reason, expiresAt: expiresAt === undefined ? undefined : expiresAt === null ? null : new Date(expiresAt), source: 'api' },
          actor,
        );
        console.log(
          `${outcome.list}: ${outcome.numbers} number(s): ${outcome.added} added, ${outcome.updated} refreshed, ${outcome.revived} brought back; ${outcome.expiresAt ? `expire ${outcome.expiresAt}` : 'never expire'}`,
        );
        return;
      }
      case 'remove': {
        const [type, msisdn, ...extra] = rest;
        if (!type || !msisdn || extra.length > 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        const removed = await container.lists.removeEntry(type, msisdn, actor);
        console.log(`removed ${removed.msisdn} from ${type} (it had been added by ${removed.createdBy} at ${removed.createdAt})`);
        return;
      }
      default:
        throw new AppError('VALIDATION', `usage: ${usage}`);
    }
  },
};
