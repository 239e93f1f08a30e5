import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import { cliActor } from '../cli/actor.js';
import { AppError } from '../http/errors.js';
import { keyStatus } from './key.service.js';
import { createKeyBody } from './key.schemas.js';
import { ROLES } from './roles.js';

const usage = [
  'keys create --role analyst|operator|scheduler|admin --name <holder> [--expires 2027-01-01]',
  'keys list',
  'keys revoke <id|name>',
].join('\n       ');

const pad = (s: string, n: number) => s.padEnd(n);

export const keysCommand: CliCommand = {
  summary: 'create, list and revoke API keys',
  usage,
  needs: 'core',
  async run(args, container) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'create': {
        const { values } = parseArgs({
          args: rest,
          options: { role: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' } },
          strict: true,
        });
        const parsed = createKeyBody.safeParse({ name: values.name, role: values.role, expiresAt: values.expires });
        if (!parsed.success) {
          const problems = parsed.error.issues.map((i) => `--${i.path[0] === 'expiresAt' ? 'expires' : String(i.path[0])}: ${i.message}`);
          throw new AppError('VALIDATION', `${problems.join('; ')} (roles: ${ROLES.join(', ')})\nusage: ${usage}`);
        }
        const { name, role, expiresAt } = parsed.data;
        const created = await container.keys.create(cliActor(), { name, role, expiresAt: expiresAt ? new Date(expiresAt) : null });
        console.log(`created ${created.role} key "${created.name}" (id ${created.id}${created.expiresAt ? `, expires ${created.expiresAt.toISOString()}` : ''})`);
        console.log('the key is shown only now; store it safely:');
        console.log(created.key);
        return;
      }
      case 'list': {
        const keys = await container.keys.list();
        console.log([pad('ID', 37), pad('NAME', 24), pad('ROLE', 10), pad('STATUS', 8), pad('PREFIX', 9), pad('EXPIRES', 25), 'LAST USED'].join(' '));
        for (const k of keys) {
          console.log(
            [
              pad(k.id, 37),
              pad(k.name, 24),
              pad(k.role, 10),
              pad(keyStatus(k), 8),
              pad(k.prefix, 9),
              pad(k.expiresAt?.toISOString() ?? '-', 25),
              k.lastUsedAt?.toISOString() ?? '-',
            ].join(' '),
          );
        }
        return;
      }
      case 'revoke': {
        const target = rest[0];
        if (!target || rest.length > 1) throw new AppError('VALIDATION', `usage: ${usage}`);
        const revoked = await container.keys.revoke(cliActor(), target);
        console.log(`revoked ${revoked.role} key "${revoked.name}" (id ${revoked.id}) at ${revoked.revokedAt?.toISOString()}`);
        return;
      }
      default:
        throw new AppError('VALIDATION', `usage: ${usage}`);
    }
  },
};
