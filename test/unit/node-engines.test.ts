import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { unsupportedNode } from '../../src/util/node-version.js';

const root = new URL('../../', import.meta.url);
const read = (file: string) => readFileSync(new URL(file, root), 'utf8');
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; dependencies: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; hasInstallScript?: boolean; optional?: boolean }>;
};
// npm's own range logic (fastify and bullmq depend on it), so the test does not reimplement semver.
const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

describe('the declared Node minimum', () => {
  it('is accepted by every locked package, so npm ci on that Node prints no EBADENGINE', () => {
    const minimum = semver.minVersion(pkg.engines.node)!.version;
    const refusing = Object.entries(lock.packages)
      .filter(([name, entry]) => name !== '' && !Array.isArray(entry.engines) && entry.engines?.node)
      .filter(([, entry]) => !semver.satisfies(minimum, (entry.engines as { node: string }).node))
      .map(([name, entry]) => `${name.replace(/^.*node_modules\//, '')} wants node ${(entry.engines as { node: string }).node}`);
    expect(refusing).toEqual([]);
  });

  it('is enforced at install (engine-strict) and named in one checkable form', () => {
    expect(read('.npmrc')).toMatch(/^engine-strict=true$/m);
    expect(pkg.engines.node).toMatch(/^>=\d+\.\d+\.\d+$/);
    expect(unsupportedNode(process.versions.node, pkg.engines.node)).toBeUndefined();
  });

  it('compares versions numerically, part by part', () => {
    expect(unsupportedNode('20.19.0', '>=20.19.0')).toBeUndefined();
    expect(unsupportedNode('v22.1.0', '>=20.19.0')).toBeUndefined();
    expect(unsupportedNode('20.100.0', '>=20.19.0')).toBeUndefined();
    expect(unsupportedNode('20.18.9', '>=20.19.0')).toMatch(/needs Node >=20\.19\.0.*this is Node 20\.18\.9/);
    expect(unsupportedNode('18.20.8', '>=20.19.0')).toMatch(/this is Node 18\.20\.8/);
    expect(unsupportedNode('20.19.0', '^20')).toMatch(/must read ">=X\.Y\.Z"/);
  });

  it('stops the CLI on an older Node with one clear sentence before anything else loads', async () => {
    const script = "Object.defineProperty(process.versions, 'node', { value: '20.18.1' }); await import('./src/cli.ts');";
    const failure = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim()).toBe(`Quanke needs Node ${pkg.engines.node} (package.json "engines"); this is Node 20.18.1. Install a newer Node and run again.`);
  });
});

describe('dependencies', () => {
  it('builds nothing at install that the code does not import', () => {
    const sources = execFileSync('git', ['grep', '-h', '-E', "from '|import\\('", '--', 'src', 'bench', 'fixtures'], { cwd: root, encoding: 'utf8' });
    const unused = Object.keys(pkg.dependencies)
      .filter((name) => lock.packages[`node_modules/${name}`]?.hasInstallScript)
      .filter((name) => !sources.includes(`'${name}'`) && !sources.includes(`'${name}/`));
    expect(unused).toEqual([]);
  });
});
