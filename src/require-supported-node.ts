import { readFileSync } from 'node:fs';
import { unsupportedNode } from './util/node-version.js';

// Imported first by every entry point (server, CLI, worker), so an old Node stops here with one
// clear sentence instead of failing later inside a dependency that needs a newer runtime.
const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
const problem = unsupportedNode(process.versions.node, engines.node);
if (problem) {
  console.error(problem);
  process.exit(1);
}
