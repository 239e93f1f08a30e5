import { parseArgs } from 'node:util';
import type { CliCommand } from '../cli/command.js';
import { printTable } from '../cli/table.js';
import { AppError } from '../http/errors.js';
import { stepName } from './funnel.js';
import { policyQuery } from './policy.schemas.js';

const usage = ['policy list', 'policy show <name> [--version N]'].join('\n       ');

/** Exclusion policies from the shell, read-only (changes go through PUT /v1/exclusion-policies/:name). */
export const policyCommand: CliCommand = {
  summary: 'list exclusion policies and show one with its steps and pinned rules',
  usage,
  needs: 'core',
  async run(args, container) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        if (rest.length > 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        const policies = await container.policies.list();
        printTable(
          ['NAME', 'VERSION', 'STEPS', 'UPDATED', 'BY', 'DESCRIPTION'],
          policies.map((p) => [p.name, String(p.version), String(p.steps), p.updatedAt, p.updatedBy, p.description ?? '']),
        );
        return;
      }
      case 'show': {
        const { values, positionals } = parseArgs({ args: rest, options: { version: { type: 'string' } }, allowPositionals: true, strict: true });
        const [name, ...extra] = positionals;
        const version = policyQuery.safeParse({ version: values.version });
        if (!name || extra.length > 0 || !version.success) throw new AppError('VALIDATION', `usage: ${usage}`);
        const policy = await container.policies.get(name, version.data.version);
        console.log(`policy ${policy.name}, version ${policy.version} (saved by ${policy.updatedBy} at ${policy.updatedAt})`);
        if (policy.description) console.log(policy.description);
        console.log('steps, in order:');
        policy.steps.forEach((step, i) => console.log(`  ${i + 1}. ${step.label ?? stepName(step)}  ${JSON.stringify(step)}`));
        console.log(
          policy.rules.length > 0
            ? `pinned rules: ${policy.rules.map((r) => `${r.name} v${r.version}`).join(', ')}`
            : 'pinned rules: none (no condition step uses a saved rule)',
        );
        return;
      }
      default:
        throw new AppError('VALIDATION', `usage: ${usage}`);
    }
  },
};
