import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where the built console lives (git-ignored with the rest of `data/`). */
export const CONSOLE_DIR = path.resolve(HERE, '../../data/console');

/** Server-side modules the browser bundle also imports: a change to them changes the build. */
const SHARED_SOURCES = ['../campaigns/message.ts', '../gateways/sms-encoding.ts'].map((p) => path.resolve(HERE, p));

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'screenshots') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** True when there is no build, or a source file changed after it was made. */
export function consoleBuildIsStale(outDir = CONSOLE_DIR): boolean {
  const index = path.join(outDir, 'index.html');
  if (!existsSync(index)) return true;
  const sources = Math.max(newestSourceMtime(HERE), ...SHARED_SOURCES.map((p) => statSync(p).mtimeMs));
  return sources > statSync(index).mtimeMs;
}

export interface EnsureBuiltOptions {
  outDir?: string;
  /** Rebuild a build older than its sources too, not only a missing one (default true). */
  whenStale?: boolean;
  onBuild?: () => void;
}

/**
 * Builds the console with Vite when it is missing (or older than its sources). Vite is imported
 * only then, so a start with a current build does not load the bundler. The bundle is written
 * beside the target and swapped in by rename, so a server reading the old one never sees half a
 * build.
 */
export async function ensureConsoleBuilt(options: EnsureBuiltOptions = {}): Promise<boolean> {
  const outDir = options.outDir ?? CONSOLE_DIR;
  const needed = options.whenStale === false ? !existsSync(path.join(outDir, 'index.html')) : consoleBuildIsStale(outDir);
  if (!needed) return false;
  options.onBuild?.();
  const { build } = await import('vite');
  const staging = `${outDir}.building-${process.pid}`;
  await build({
    configFile: path.join(HERE, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: staging, emptyOutDir: true },
  });
  rmSync(outDir, { recursive: true, force: true });
  try {
    renameSync(staging, outDir);
  } catch (error) {
    // Another process swapped its own build in between: theirs is as new as ours.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(path.join(outDir, 'index.html'))) throw error;
  }
  return true;
}
