import os from 'node:os';
import type { Actor } from '../security/roles.js';

/**
 * The person at the terminal, as the audit log records them. Whoever can run the CLI can read the
 * configuration and the database, so the shell user acts as admin (and sees whole numbers).
 */
export function cliActor(): Actor {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): the audit row still says it came from the CLI.
  }
  return { name: `cli:${user}`, role: 'admin', ip: 'cli' };
}
