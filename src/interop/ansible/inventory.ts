/**
 * Ansible's dynamic inventory from Hangar's VMs (`hangar inventory --list` / `--host NAME`,
 * the JSON an inventory script prints): groups by project, state, label and node, and per
 * host the variables Ansible needs to reach the guest over SSH plus `hangar_*` facts.
 *
 * How a guest is reached, first that applies:
 *   1. an address the guest agent reports on a NIC of a managed network (matched by MAC):
 *      the host reaches it directly, on port 22;
 *   2. a TCP port forward to guest port 22 on the user-mode NIC: its host address
 *      (127.0.0.1 for a forward bound to 0.0.0.0) and `ansible_port` the host port;
 *   3. any other address the agent reports that is not on a user-mode NIC (QEMU's user
 *      network, 10.0.2.x, is not reachable from the host).
 * Pure functions: src/cli/inventory-command.ts fetches the VMs and guest reports.
 */
import type { GuestInfoReply, Vm } from '../../contract/index.js';
import { parseForward } from '../../vm/forwards.js';

/** A group's part of the inventory. */
export interface InventoryGroup {
  hosts?: string[];
  children?: string[];
}

/** What `--list` prints: the groups, and every host's variables under `_meta.hostvars`. */
export interface Inventory {
  _meta: { hostvars: Record<string, HostVars> };
  [group: string]: InventoryGroup | { hostvars: Record<string, HostVars> };
}

export type HostVars = Record<string, unknown>;

/** The group that holds every Hangar VM. */
export const ALL_VMS_GROUP = 'hangar';

/** An Ansible group name: letters, digits and `_` only (others become `_`), not starting with a digit. */
export function groupName(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join('_').replace(/[^A-Za-z0-9_]/g, '_');
}

/** The groups a VM belongs to, besides `hangar`. */
export function groupsOf(vm: Vm): string[] {
  const groups = [groupName('project', vm.project), groupName('state', vm.state)];
  for (const [k, v] of Object.entries(vm.labels ?? {})) groups.push(groupName('label', k, v));
  if (vm.node !== undefined) groups.push(groupName('node', vm.node));
  return groups;
}

interface Reach {
  host: string;
  port?: number;
  via: 'network' | 'forward' | 'agent';
}

interface AgentInterface {
  mac?: string;
  addresses?: Array<{ ip?: string; family?: string }>;
}

const usable = (ip: string) => !ip.startsWith('127.') && ip !== '::1' && !ip.toLowerCase().startsWith('fe80:');
/** IPv4 first, then IPv6, each in the order the agent gave them. */
const ordered = (ips: string[]) => [...ips.filter((ip) => !ip.includes(':')), ...ips.filter((ip) => ip.includes(':'))];

function interfacesOf(guest: GuestInfoReply | undefined): AgentInterface[] {
  return (guest?.interfaces ?? []).filter((i): i is AgentInterface => typeof i === 'object' && i !== null);
}

function ipsOn(ifaces: AgentInterface[], macs: Set<string>): string[] {
  return ordered(ifaces
    .filter((i) => i.mac !== undefined && macs.has(i.mac.toLowerCase()))
    .flatMap((i) => (i.addresses ?? []).map((a) => a.ip))
    .filter((ip): ip is string => typeof ip === 'string' && usable(ip)));
}

/** How Ansible reaches the guest over SSH, if it can; see the module's comment for the order. */
export function reachOf(vm: Vm, guest: GuestInfoReply | undefined): Reach | undefined {
  const ifaces = interfacesOf(guest);
  const managed = new Set(vm.nics.filter((n) => n.kind !== 'user').map((n) => n.mac.toLowerCase()));
  const onNetwork = ipsOn(ifaces, managed)[0];
  if (onNetwork !== undefined) return { host: onNetwork, via: 'network' };

  for (const text of vm.forwards) {
    try {
      const f = parseForward(text);
      if (f.protocol === 'tcp' && f.guestPort === 22) return { host: f.hostAddress === '0.0.0.0' ? '127.0.0.1' : f.hostAddress, port: f.hostPort, via: 'forward' };
    } catch {
      // not a forward this version reads: skip it
    }
  }

  const userMacs = new Set(vm.nics.filter((n) => n.kind === 'user').map((n) => n.mac.toLowerCase()));
  const userIps = new Set(ifaces.filter((i) => i.mac !== undefined && userMacs.has(i.mac.toLowerCase())).flatMap((i) => (i.addresses ?? []).map((a) => a.ip)));
  const other = ordered((guest?.ips ?? []).filter((ip) => usable(ip) && !userIps.has(ip)))[0];
  return other === undefined ? undefined : { host: other, via: 'agent' };
}

/** A host's variables: how to reach it (ansible_host, ansible_port, ansible_user) and hangar_* facts. */
export function hostVarsOf(vm: Vm, guest: GuestInfoReply | undefined): HostVars {
  const reach = reachOf(vm, guest);
  return {
    ...(reach && { ansible_host: reach.host }),
    ...(reach?.port !== undefined && { ansible_port: reach.port }),
    ...(vm.cloudInit?.user !== undefined && { ansible_user: vm.cloudInit.user }),
    hangar_name: vm.name,
    hangar_state: vm.state,
    hangar_cpus: vm.cpus,
    hangar_memory: vm.memory,
    hangar_project: vm.project,
    ...(vm.node !== undefined && { hangar_node: vm.node }),
    hangar_labels: vm.labels ?? {},
    ...(vm.image !== undefined && { hangar_image: vm.image }),
    hangar_ips: guest?.ips ?? [],
    ...(reach && { hangar_reach: reach.via }),
  };
}

/** The whole inventory (`--list`): `guests` holds the agent's reports of the VMs that have one. */
export function buildInventory(vms: Vm[], guests: ReadonlyMap<string, GuestInfoReply>): Inventory {
  const sorted = [...vms].sort((a, b) => a.name.localeCompare(b.name));
  const groups = new Map<string, string[]>();
  const hostvars: Record<string, HostVars> = {};
  for (const vm of sorted) {
    hostvars[vm.name] = hostVarsOf(vm, guests.get(vm.name));
    for (const g of groupsOf(vm)) groups.set(g, [...(groups.get(g) ?? []), vm.name]);
  }
  const names = [...groups.keys()].sort();
  const inventory: Inventory = {
    _meta: { hostvars },
    all: { children: ['ungrouped', ALL_VMS_GROUP, ...names] },
    [ALL_VMS_GROUP]: { hosts: sorted.map((v) => v.name) },
  };
  for (const g of names) inventory[g] = { hosts: groups.get(g)! };
  return inventory;
}
