/**
 * The one table of who may call what: route pattern + method → the minimum role, and how
 * a project-scoped token is confined on that route. A route missing from the table needs
 * admin and is closed to project tokens (policy.test.ts checks every route is listed here or
 * in PUBLIC_ROUTES).
 * HEAD is looked up as GET.
 */
import type { Role } from './roles.js';

/**
 * How a project-scoped token is confined on a route:
 * - `global`: reads that are not per project (images, pools, the host);
 * - `vm`: the `:name` VM must be in the token's project (else VM_NOT_FOUND);
 * - `vm-attach`: `vm`, and the volume in the body must be the project's too;
 * - `vm-list`, `volume-list`, `operation-list`, `event-list`, `project-list`, `network-list`:
 *   the reply is filtered to the project;
 * - `vm-create`: the body's project defaults to the token's; another one is FORBIDDEN;
 * - `volume`: the `:pool/:name` volume must be the project's (else VOLUME_NOT_FOUND);
 * - `volume-create`, `volume-clone`: makes a volume outside any VM, which belongs to the
 *   `default` project (volumes carry no project of their own yet);
 * - `operation`: the operation's target (a VM or volume) must be the project's;
 * - `project`, `network`: only the token's own project; a network shows only the project's VMs;
 * - `host`: host-wide changes: never for project tokens.
 */
export type Scope =
  | 'global' | 'host'
  | 'vm' | 'vm-attach' | 'vm-list' | 'vm-create'
  | 'volume' | 'volume-list' | 'volume-create' | 'volume-clone'
  | 'operation' | 'operation-list' | 'event-list'
  | 'project' | 'project-list' | 'network' | 'network-list';

export interface RoutePolicy {
  role: Role;
  scope: Scope;
}

const viewer = (scope: Scope): RoutePolicy => ({ role: 'viewer', scope });
const operator = (scope: Scope): RoutePolicy => ({ role: 'operator', scope });
const admin: RoutePolicy = { role: 'admin', scope: 'host' };

export const ROUTE_POLICY: Readonly<Record<string, RoutePolicy>> = {
  'GET /v1/openapi.json': viewer('global'),
  'GET /v1/host': viewer('global'),
  // Prometheus scrapes with a viewer token; host-wide numbers, so not for project tokens.
  'GET /metrics': viewer('host'),
  // Who did what: admins only.
  'GET /v1/audit': admin,
  // Every guest of the host at once (hangar-guests.service): admins only.
  'POST /v1/host/shutdown-guests': admin,
  'POST /v1/host/start-guests': admin,

  'GET /v1/vms': viewer('vm-list'),
  'POST /v1/vms': operator('vm-create'),
  'GET /v1/vms/:name': viewer('vm'),
  'PATCH /v1/vms/:name': operator('vm'),
  'DELETE /v1/vms/:name': operator('vm'),
  'POST /v1/vms/:name/start': operator('vm'),
  'POST /v1/vms/:name/media/insert': operator('vm'),
  'POST /v1/vms/:name/media/eject': operator('vm'),
  'POST /v1/vms/:name/save': operator('vm'),
  'POST /v1/vms/:name/discard-save': operator('vm'),
  'POST /v1/vms/:name/nvram/reset': operator('vm'),
  // A clone is a new VM in the source's project; rename keeps it there. An image of a VM is a host-wide image: the admin's.
  'POST /v1/vms/:name/clone': operator('vm'),
  'POST /v1/vms/:name/rename': operator('vm'),
  'POST /v1/vms/:name/image': admin,
  // Moving a guest to another host (and the peers it may go to) is the host admin's call.
  'POST /v1/vms/:name/migrate': admin,
  'GET /v1/peers': viewer('host'),
  'GET /v1/peers/:name': viewer('host'),
  'POST /v1/peers': admin,
  'DELETE /v1/peers/:name': admin,
  // Daemon to daemon: the source daemon calls these with an admin token of this one.
  'POST /v1/migrations/incoming': admin,
  'POST /v1/migrations/incoming/:id/finish': admin,
  'DELETE /v1/migrations/incoming/:id': admin,
  'POST /v1/vms/:name/stop': operator('vm'),
  'POST /v1/vms/:name/restart': operator('vm'),
  'POST /v1/vms/:name/pause': operator('vm'),
  'POST /v1/vms/:name/resume': operator('vm'),
  'POST /v1/vms/:name/exec': operator('vm'),
  'GET /v1/vms/:name/guest': viewer('vm'),
  'GET /v1/vms/:name/logs': viewer('vm'),
  'GET /v1/vms/:name/metrics': viewer('vm'),
  'POST /v1/vms/:name/console-tokens': operator('vm'),
  // Opens a SPICE port with a password (a console, like a console token): operators.
  'GET /v1/vms/:name/spice.vv': operator('vm'),
  'POST /v1/vms/:name/nics': operator('vm'),
  'DELETE /v1/vms/:name/nics/:nic': operator('vm'),
  'POST /v1/vms/:name/disks': operator('vm-attach'),
  'DELETE /v1/vms/:name/disks/:volume': operator('vm'),
  'GET /v1/vms/:name/snapshots': viewer('vm'),
  'POST /v1/vms/:name/snapshots': operator('vm'),
  'POST /v1/vms/:name/snapshots/:snapshot/revert': operator('vm'),
  'DELETE /v1/vms/:name/snapshots/:snapshot': operator('vm'),
  // Backups: taking one is an operator's act on the VM; repositories, the list (every project's
  // VMs) and restores (a new VM from any backup) are host-wide.
  'POST /v1/vms/:name/backups': operator('vm'),
  'GET /v1/backups': admin,
  'POST /v1/backups/:id/restore': admin,
  'GET /v1/backup-repos': admin,
  'POST /v1/backup-repos': admin,
  'DELETE /v1/backup-repos/:repo': admin,
  'POST /v1/backups/prune': admin,
  'POST /v1/backup-repos/:repo/verify': admin,
  'POST /v1/backup-repos/:repo/gc': admin,
  'GET /v1/backup-schedules': admin,
  'POST /v1/backup-schedules': admin,
  'DELETE /v1/backup-schedules/:vm': admin,
  // Export and import read and write files on the daemon's host as root.
  'POST /v1/vms/:name/export': admin,
  'POST /v1/vms/import': admin,
  // A VM from an appliance file on the host: the host admin's.
  'POST /v1/import/ovf': admin,
  // A libvirt domain names disk, kernel and NVRAM files on the host, which the import reads (or takes in place).
  'POST /v1/import/libvirt': admin,

  'GET /v1/images': viewer('global'),
  'GET /v1/images/:name': viewer('global'),
  'POST /v1/images': admin,
  'DELETE /v1/images/:name': admin,

  'GET /v1/pools': viewer('global'),
  'GET /v1/pools/:pool': viewer('global'),
  'POST /v1/pools': admin,

  'GET /v1/volumes': viewer('volume-list'),
  'POST /v1/volumes': operator('volume-create'),
  'GET /v1/volumes/:pool/:name': viewer('volume'),
  'DELETE /v1/volumes/:pool/:name': operator('volume'),
  'POST /v1/volumes/:pool/:name/resize': operator('volume'),
  'POST /v1/volumes/:pool/:name/clone': operator('volume-clone'),

  'GET /v1/operations': viewer('operation-list'),
  'GET /v1/operations/:id': viewer('operation'),
  'DELETE /v1/operations/:id': operator('operation'),

  'GET /v1/events': viewer('event-list'),

  'GET /v1/projects': viewer('project-list'),
  'GET /v1/projects/:name': viewer('project'),
  'POST /v1/projects': admin,
  'PATCH /v1/projects/:name': admin,
  'DELETE /v1/projects/:name': admin,
  // Profiles are shared by every project's VMs: changing one re-applies it to all of them, the host admin's.
  'GET /v1/profiles': viewer('global'),
  'GET /v1/profiles/:name': viewer('global'),
  'POST /v1/profiles': admin,
  'PATCH /v1/profiles/:name': admin,
  'DELETE /v1/profiles/:name': admin,
  'GET /v1/templates': viewer('global'),
  'GET /v1/templates/:name': viewer('global'),
  'POST /v1/templates': admin,
  'DELETE /v1/templates/:name': admin,
  // Clones are VMs of the template's project: admin until projects are checked for them.
  'POST /v1/templates/:name/clones': admin,
  'GET /v1/instance-types': viewer('global'),

  'GET /v1/networks': viewer('network-list'),
  'GET /v1/networks/:name': viewer('network'),
  'POST /v1/networks': admin,
  'DELETE /v1/networks/:name': admin,

  'GET /v1/cluster': viewer('global'),
  'POST /v1/cluster/init': admin,
  'POST /v1/cluster/join-tokens': admin,
  'POST /v1/cluster/join': admin,
  'POST /v1/cluster/placement': operator('vm-create'),
  'GET /v1/groups': viewer('host'),
  'GET /v1/groups/:group': viewer('host'),
  'POST /v1/groups': admin,
  'DELETE /v1/groups/:group': admin,
  'POST /v1/groups/:group/members': admin,
  'DELETE /v1/groups/:group/members/:vm': admin,
  'GET /v1/nodes': viewer('host'),
  'PATCH /v1/nodes/:node': admin,
  'DELETE /v1/nodes/:node': admin,
  // Evacuating a node moves every VM on it: the host admin's call.
  'POST /v1/nodes/:node/evacuate': admin,
  'POST /v1/nodes/:node/restore': admin,
  // Node to node (a move between the nodes of the cluster): called with the cluster's node token.
  'POST /v1/cluster/moves/check': admin,
  'POST /v1/cluster/moves/incoming': admin,
  'POST /v1/cluster/moves/incoming/:id/finish': admin,
  'DELETE /v1/cluster/moves/incoming/:id': admin,
  // Webhooks carry every project's events to a URL: the host admin's.
  'GET /v1/hooks': admin,
  'GET /v1/hooks/:name': admin,
  'POST /v1/hooks': admin,
  'DELETE /v1/hooks/:name': admin,
  'GET /v1/tokens': admin,
  'POST /v1/tokens': admin,
  'DELETE /v1/tokens/:token': admin,
};

/**
 * The only routes that need no token: the web UI's static files (src/api/ui.ts). They hold
 * no data; the page asks for an API token, and everything it shows comes from the API.
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['GET /', 'GET /ui/*']);

export function isPublicRoute(method: string, url: string): boolean {
  return PUBLIC_ROUTES.has(policyKey(method, url));
}

export function policyKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}

/** The policy of a route, or admin/host-only when it is not in the table. */
export function routePolicy(method: string, url: string): RoutePolicy & { listed: boolean } {
  const p = ROUTE_POLICY[policyKey(method, url)];
  return p ? { ...p, listed: true } : { ...admin, listed: false };
}
