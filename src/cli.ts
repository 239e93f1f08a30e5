import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from './config.js';
import { createContainer, type Container } from './container.js';
import { createLogger } from './logger.js';

/**
 * `npm run quanke -- <command> …`. Each command lives beside its feature and receives the
 * container; this file only dispatches.
 */
export interface CliCommand {
  summary: string;
  usage: string;
  run(args: string[], container: Container): Promise<void>;
}

const commands: Record<string, () => Promise<CliCommand>> = {
  migrate: async () => ({
    summary: 'create the database if needed and run all migrations',
    usage: 'migrate',
    // createContainer already migrated; saying so is the whole job.
    run: async () => console.log('migrations: up to date'),
  }),
  import: async () => (await import('./warehouse/import.cli.js')).importCommand,
  segment: async () => (await import('./segments/segment.cli.js')).segmentCommand,
  keys: async () => (await import('./security/keys.cli.js')).keysCommand,
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
  const container = await createContainer(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
  try {
    await command.run(argv.slice(1), container);
    return 0;
  } finally {
    await container.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else if (error instanceof Error && 'code' in error && 'status' in error) console.error(`error: ${error.message}`);
    else console.error(error);
    process.exit(1);
  },
);
