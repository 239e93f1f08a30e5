/** The roles an API key can hold. */
export const ROLES = ['analyst', 'operator', 'scheduler', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a route requires: one of the roles, or `public` (health, readiness, docs).
 * Every route declares it in `config.access`; the app refuses to start if one does not.
 */
export type Access = Role | 'public';

/**
 * Which route classes each role may use. Operators and schedulers also read what analysts read;
 * only admins see unmasked phone numbers and names, and manage keys.
 */
const GRANTS: Record<Role, ReadonlySet<Access>> = {
  analyst: new Set<Access>(['public', 'analyst']),
  operator: new Set<Access>(['public', 'analyst', 'operator']),
  scheduler: new Set<Access>(['public', 'analyst', 'scheduler']),
  admin: new Set<Access>(['public', 'analyst', 'operator', 'scheduler', 'admin']),
};

export function mayAccess(role: Role, access: Access): boolean {
  return GRANTS[role].has(access);
}

/**
 * Only admins see personal data whole (PIPL): phone numbers, names, and any comparison on them
 * that could reveal what the mask hides. Everyone else sees `138****1234` and `张**`.
 */
export function seesPersonalData(role: Role): boolean {
  return role === 'admin';
}

/** Who is acting: from the API key on a request, or the CLI/system. Carried into audit rows. */
export interface Actor {
  name: string;
  role: Role;
  ip?: string;
  requestId?: string;
}

export const SYSTEM_ACTOR: Actor = { name: 'system', role: 'admin' };
