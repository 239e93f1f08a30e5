import './require-supported-node.js';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, type Config } from './config.js';
import { createContainer, createCoreContainer } from './container.js';
import { createLogger } from './logger.js';
import { apiBaseUrl, findRunningApi } from './cli/running-api.js';
import type { CliCommand } from './cli/command.js';

/**
 * `npm run quanke -- <command> …`. Each command lives beside its feature and says what it needs:
 * `core` commands run on Postgres and Redis alone (so they work while the API serves); `warehouse`
 * commands go through the running API, which owns the DuckDB file, and open it themselves only
 * when no API answers. This file only dispatches.
 */
const commands: Record<string, () => Promise<CliCommand>> = {
  migrate: async () => ({
    summary: 'create the database if needed and run all migrations',
    usage: 'migrate',
    needs: 'core',
    // Building the core container already migrated; saying so is the whole job.
    run: async () => console.log('migrations: up to date'),
  }),
  import: async () => (await import('./warehouse/import.cli.js')).importCommand,
  segment: async () => (await import('./segments/segment.cli.js')).segmentCommand,
  keys: async () => (await import('./security/keys.cli.js')).keysCommand,
  list: async () => (await import('./lists/list.cli.js')).listCommand,
  policy: async () => (await import('./exclusions/policy.cli.js')).policyCommand,
  rule: async () => (await import('./rules/rule.cli.js')).ruleCommand,
  campaign: async () => (await import('./campaigns/campaign.cli.js')).campaignCommand,
  report: async () => (await import('./reports/report.cli.js')).reportCommand,
};

async function help(): Promise<string> {
  const lines: string[] = [];
  for (const [name, load] of Object.entries(commands)) {
    const command = await load();
    lines.push(`  ${name.padEnd(8)} ${command.summary}`);
    for (const usage of command.usage.split('\n')) lines.push(`           npm run quanke -- ${usage.trim()}`);
  }
  return `usage: npm run quanke -- <command> [args]\n\ncommands:\n${lines.join('\n')}`;
}

async function runWarehouseCommand(command: Extract<CliCommand, { needs: 'warehouse' }>, args: string[], config: Config): Promise<void> {
  const api = await findRunningApi(config);
  if (api) {
    console.error(`(through the running API at ${api.baseUrl}, which owns the warehouse)`);
    return command.runViaApi(args, api);
  }
  if (command.runOnCore && command.runsOnCore?.(args)) {
    console.error(`(no API answers at ${apiBaseUrl(config)}: working on Postgres directly)`);
    const core = await createCoreContainer(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
    try {
      return await command.runOnCore(args, core);
    } finally {
      await core.close();
    }
  }
  console.error(`(no API answers at ${apiBaseUrl(config)}: opening the warehouse ${config.DUCKDB_PATH} directly)`);
  const container = await createContainer(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
  try {
    await command.run(args, container);
  } finally {
    await container.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv.slice(0, 1), allowPositionals: true, strict: false });
  const name = positionals[0];
  const load = name ? commands[name] : undefined;
  if (!load) {
    console.error(await help());
    return name ? 2 : 0;
  }
  const command = await load();
  const config = loadConfig();
  if (command.needs === 'warehouse') {
    await runWarehouseCommand(command, argv.slice(1), config);
    return 0;
  }
  const core = await createCoreContainer(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
  try {
    await command.run(argv.slice(1), core);
    return 0;
  } finally {
    await core.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else if (error instanceof Error && 'code' in error && 'status' in error) {
      console.error(`error: ${error.message}`);
      for (const p of ((error as { errors?: Array<{ path: string; message: string }> }).errors ?? []).slice(0, 20)) {
        console.error(`  ${p.path}: ${p.message}`);
      }
    } else console.error(error);
    process.exit(1);
  },
);
