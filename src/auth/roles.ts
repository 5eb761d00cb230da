/**
 * Who is calling: a principal with a role and, for project tokens, one project.
 * Roles are ordered: viewer < operator < admin.
 */

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether `have` is at least `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Principal {
  /** `local`: the unix socket (trusted as admin, like libvirt's qemu:///system); `token`: a bearer token. */
  kind: 'local' | 'token';
  role: Role;
  /** Set for project-scoped tokens: they see and touch only this project's VMs, volumes and snapshots. */
  project?: string;
  tokenId?: string;
  tokenName?: string;
}

export const LOCAL_PRINCIPAL: Principal = Object.freeze({ kind: 'local', role: 'admin' });

/**
 * The string the audit log records as the actor: `unix-socket` for the local socket,
 * `token:<id>:<name>` for a bearer token (the id never changes; names can be reused).
 */
export function auditActorOf(p: Principal | null): string {
  if (!p) return 'anonymous';
  if (p.kind === 'local') return 'unix-socket';
  return `token:${p.tokenId ?? '?'}:${p.tokenName ?? '?'}`;
}
