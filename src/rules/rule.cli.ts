import type { CliCommand } from '../cli/command.js';
import { printTable } from '../cli/table.js';
import { AppError } from '../http/errors.js';

const usage = ['rule list', 'rule show <name>'].join('\n       ');

/** The saved-rule library from the shell, read-only (changes go through PUT /v1/rules/:name or rules/). */
export const ruleCommand: CliCommand = {
  summary: 'list saved rules and show one with its condition',
  usage,
  needs: 'core',
  async run(args, container) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        if (rest.length > 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        const rules = await container.rules.list();
        printTable(
          ['NAME', 'VERSION', 'SOURCE', 'UPDATED', 'BY', 'DESCRIPTION'],
          rules.map((r) => [r.name, String(r.version), r.source, r.updatedAt, r.updatedBy, r.description]),
        );
        return;
      }
      case 'show': {
        const [name, ...extra] = rest;
        if (!name || extra.length > 0) throw new AppError('VALIDATION', `usage: ${usage}`);
        const rule = await container.rules.get(name);
        console.log(`rule ${rule.name}, version ${rule.version} (${rule.source}; saved by ${rule.updatedBy} at ${rule.updatedAt})`);
        console.log(rule.description);
        const { rules, segments, lists } = rule.references;
        const uses = [...rules.map((r) => `rule ${r}`), ...segments.map((s) => `segment ${s}`), ...lists.map((l) => `list ${l}`)];
        console.log(`uses: ${uses.length > 0 ? uses.join(', ') : 'no other rules, segments or lists'}`);
        console.log(JSON.stringify(rule.condition, null, 2));
        return;
      }
      default:
        throw new AppError('VALIDATION', `usage: ${usage}`);
    }
  },
};
