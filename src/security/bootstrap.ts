import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Container } from '../container.js';
import { SYSTEM_ACTOR } from './roles.js';

export interface BootstrapOptions {
  /** Where the new key is written (mode 0600); `data/admin.key` under the working directory by default. */
  keyFile?: string;
  /** Where the one-time notice goes; stdout by default. */
  out?: { write(text: string): unknown };
}

export const DEFAULT_ADMIN_KEY_FILE = 'data/admin.key';

/**
 * Quick start without a manual step: when no admin key works, creates `local-admin`, prints it once
 * and writes it to `data/admin.key` readable by the owner only. Does nothing when an admin key exists.
 */
export async function ensureBootstrapAdminKey(container: Container, options: BootstrapOptions = {}): Promise<{ created: boolean; keyFile?: string }> {
  const created = await container.keys.ensureBootstrapAdmin({ ...SYSTEM_ACTOR, name: 'system:bootstrap' });
  if (!created) return { created: false };
  const keyFile = path.resolve(options.keyFile ?? DEFAULT_ADMIN_KEY_FILE);
  mkdirSync(path.dirname(keyFile), { recursive: true });
  // Written whole under a temporary name, then renamed: a reader never sees half a key, and the
  // mode is set at creation so the secret is never world-readable, not even for a moment.
  const temporary = `${keyFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${created.key}\n`, { mode: 0o600 });
  renameSync(temporary, keyFile);
  const out = options.out ?? process.stdout;
  const shownPath = keyFile.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), keyFile) : keyFile;
  out.write(
    [
      '',
      `No admin API key existed, so one was created (name "${created.name}", id ${created.id}).`,
      `It is shown once here and saved to ${keyFile} (mode 0600):`,
      '',
      `  ${created.key}`,
      '',
      `  curl -H "Authorization: Bearer $(cat ${shownPath})" http://127.0.0.1:${container.config.PORT}/v1/datasets`,
      '',
      '',
    ].join('\n'),
  );
  container.logger.info({ keyId: created.id, keyFile }, 'bootstrap admin key created');
  return { created: true, keyFile };
}
