import { execFile } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createCoreContainer, type CoreContainer } from '../../src/container.js';
import { createLogger } from '../../src/logger.js';
import { SYSTEM_ACTOR } from '../../src/security/roles.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/env.js';

const run = promisify(execFile);

/**
 * The list, policy and rule commands need Postgres only (DESIGN.md "Processes"). Another process
 * holds the warehouse file meanwhile, as the API does while `npm start` serves, so a command that
 * opened it would fail on DuckDB's lock.
 */
describe('list, policy and rule commands beside a process that owns the warehouse', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'quanke-cli-'));
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: `qt-${randomUUID().slice(0, 8)}`,
    DUCKDB_PATH: path.join(dir, 'warehouse.duckdb'),
    IMPORT_DIR: dir,
    UPLOAD_DIR: path.join(dir, 'uploads'),
  };
  const rule = `cli-${randomUUID().slice(0, 8)}`;
  // Two numbers of their own, so parallel test files never share an entry.
  const [first, second] = [`139${String(randomInt(1e8)).padStart(8, '0')}`, `138${String(randomInt(1e8)).padStart(8, '0')}`];
  let owner: DuckDBInstance;
  let core: CoreContainer;

  const cli = (...args: string[]) => run('node', ['--import', 'tsx', 'src/cli.ts', ...args], { env, timeout: 60_000 });
  const failing = (...args: string[]) =>
    cli(...args).then(
      (ok) => ({ code: 0, ...ok }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  beforeAll(async () => {
    owner = await DuckDBInstance.create(env.DUCKDB_PATH);
    await (await owner.connect()).run('CREATE TABLE held (x INTEGER)');
    core = await createCoreContainer(loadConfig(env), createLogger('silent'));
    await core.rules.put(rule, { description: 'high spenders (cli test)', condition: { field: 'arpu', op: 'gte', value: 150 } }, SYSTEM_ACTOR);
  });
  afterAll(async () => {
    await core?.close();
    owner?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, shows and removes list entries, audited as the shell user', async () => {
    const added = await cli('list', 'add', 'blacklist', first, second, '--reason', 'cli test', '--expires', '2030-01-01T00:00:00+08:00');
    expect(added.stdout).toContain('blacklist: 2 number(s): 2 added, 0 refreshed, 0 brought back; expire 2029-12-31T16:00:00.000Z');

    const shown = await cli('list', 'show', 'blacklist', first);
    // The shell user acts as admin: the number is shown whole.
    expect(shown.stdout).toContain(`${first} is on blacklist (expires 2029-12-31T16:00:00.000Z, reason "cli test"; added by cli:`);

    const removed = await cli('list', 'remove', 'blacklist', first);
    expect(removed.stdout).toContain(`removed ${first} from blacklist`);
    const gone = await failing('list', 'show', 'blacklist', first);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`${first} is not on the blacklist list`);

    const audit = await core.db
      .selectFrom('audit_log')
      .select(['action', 'actor'])
      .where('target_id', '=', `blacklist/${first}`)
      .execute();
    expect(audit).toEqual([{ action: 'list.entry.remove', actor: expect.stringMatching(/^cli:/) }]);
  });

  it('refuses bad input with the reason', async () => {
    const [bad, badExpiry] = await Promise.all([
      failing('list', 'add', 'blacklist', '12345', '--reason', 'x'),
      failing('list', 'add', 'blacklist', `137${second.slice(3)}`, '--expires', 'tomorrow'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('msisdns[0]');
    expect(badExpiry.code).toBe(1);
    expect(badExpiry.stderr).toContain('--expires');
  });

  it('lists and shows policies and rules', async () => {
    const [policies, policy, rules, shown] = await Promise.all([
      cli('policy', 'list'),
      cli('policy', 'show', 'default'),
      cli('rule', 'list'),
      cli('rule', 'show', rule),
    ]);
    expect(policies.stdout).toMatch(/^NAME\s+VERSION\s+STEPS/);
    expect(policies.stdout).toMatch(/^default\s+\d+\s+9\s/m);
    expect(policy.stdout).toMatch(/^policy default, version \d+/);
    expect(policy.stdout).toContain('  1. list:blacklist  {"type":"list","list":"blacklist"}');
    expect(rules.stdout).toMatch(new RegExp(`^${rule}\\s+1\\s+api\\s.*high spenders \\(cli test\\)$`, 'm'));
    expect(shown.stdout).toContain(`rule ${rule}, version 1 (api;`);
    expect(JSON.parse(shown.stdout.slice(shown.stdout.indexOf('{')))).toEqual({ field: 'arpu', op: 'gte', value: 150 });
  });
});
