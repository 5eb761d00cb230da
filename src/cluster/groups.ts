/**
 * Placement groups: a named rule between VMs, like OpenStack's server groups and Proxmox's
 * HA resource-affinity rules. `affinity` keeps its members on one node, `anti-affinity` puts
 * each on a node of its own; `hard` makes the rule a placement filter (a create no node can
 * satisfy fails with PLACEMENT_IMPOSSIBLE, nothing made), `soft` a weight that outweighs
 * capacity (kept whenever it can be, broken rather than refusing a create).
 *
 * A VM joins at create (`group` in the create body) or later (`group add`), and is in one
 * group at most; the membership is the VM's own field (the desired half), so deleting a VM
 * leaves its group with nothing to clean. Groups are stored on a single host too (and listed,
 * and joined), but nothing is placed there: the rule is enforced only in a cluster.
 *
 * Placement counts the members placed (VMs and their node) and the reservations of creates
 * under way (they carry their group), read under the placement epoch that serializes creates
 * (ClusterService.place): two concurrent creates into a hard anti-affinity group never land
 * on one node.
 */
import { HangarError } from '../errors/errors.js';
import { splitVmRecord } from '../model/vm-record.js';
import type { PlacedDecision, Store, VmRecord } from '../store/store.js';
import type { GroupRule, PlacementRequest, PlacementResult } from './placement.js';

export interface PlacementGroupRecord {
  name: string;
  policy: 'affinity' | 'anti-affinity';
  enforcement: 'hard' | 'soft';
  description?: string;
  createdAt: string;
}

/** What a create's reservation holds besides its capacity (ClusterService.place). */
export interface ReservationGroupFields {
  node: string;
  expiresAt: string;
  group?: string;
  /** Why the node was chosen: the VM record keeps it (placedFor). */
  decision?: PlacedDecision;
}

export interface GroupView {
  name: string;
  policy: PlacementGroupRecord['policy'];
  enforcement: PlacementGroupRecord['enforcement'];
  description?: string;
  createdAt: string;
  members: Array<{ vm: string; node?: string; state: string }>;
  satisfied: boolean;
}

const NAME_RE = /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/;

function checkGroupName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new HangarError('INVALID_NAME', `"${String(name)}" is not a placement group name: 1-63 letters, digits or hyphens, starting with a letter.`, { details: { field: 'name' } });
  }
  return name;
}

function notFound(name: string): HangarError {
  return new HangarError('GROUP_NOT_FOUND', `There is no placement group "${name}": make it with \`hangar group create ${name} --policy anti-affinity\`.`, { details: { group: name } });
}

/** Whether the members' nodes keep the rule (members without a node, on a single host, always do). */
function satisfied(g: PlacementGroupRecord, members: VmRecord[]): boolean {
  const nodes = members.map((m) => m.node).filter((n): n is string => n !== undefined);
  return g.policy === 'affinity' ? new Set(nodes).size <= 1 : new Set(nodes).size === nodes.length;
}

function view(g: PlacementGroupRecord, vms: VmRecord[]): GroupView {
  const members = vms.filter((v) => v.group === g.name);
  return {
    name: g.name, policy: g.policy, enforcement: g.enforcement, ...(g.description !== undefined && { description: g.description }), createdAt: g.createdAt,
    members: members.map((m) => ({ vm: m.name, ...(m.node && { node: m.node }), state: m.state })),
    satisfied: satisfied(g, members),
  };
}

/** The group a create names, checked (GROUP_NOT_FOUND); undefined when it names none. */
export async function groupForCreate(store: Store, group: unknown): Promise<PlacementGroupRecord | undefined> {
  if (group === undefined) return undefined;
  const name = checkGroupName(group);
  const g = await store.collection<PlacementGroupRecord>('placement-groups').get(name);
  if (!g) throw notFound(name);
  return g;
}

/** A group as placement sees it: where its members are, VMs and reservations of creates under way. */
export function groupRule(g: PlacementGroupRecord, vms: readonly VmRecord[], reservations: ReadonlyArray<{ key: string; record: ReservationGroupFields }>): GroupRule {
  const members: Record<string, string[]> = {};
  const add = (node: string, vm: string) => (members[node] ??= []).push(vm);
  const names = new Set(vms.map((v) => v.name));
  for (const v of vms) if (v.group === g.name && v.node && v.state !== 'migrated') add(v.node, v.name);
  const now = Date.now();
  for (const r of reservations) {
    if (r.record.group === g.name && !names.has(r.key) && Date.parse(r.record.expiresAt) > now) add(r.record.node, r.key);
  }
  return { name: g.name, policy: g.policy, hard: g.enforcement === 'hard', members };
}

/** The decision a VM keeps: the chosen node's score and terms, and the others' (short). */
export function decisionOf(result: PlacementResult, req: PlacementRequest): PlacedDecision | undefined {
  const chosen = result.lines.find((l) => l.node === result.chosen);
  if (!chosen) return undefined;
  return {
    node: chosen.node, at: new Date().toISOString(), ...(chosen.score !== undefined && { score: chosen.score }), reasons: chosen.reasons,
    ...(req.target !== undefined && { target: req.target }), ...(req.group && { group: req.group.name }),
    others: result.lines.filter((l) => l !== chosen).slice(0, 16).map((l) => ({ node: l.node, eligible: l.eligible, ...(l.score !== undefined && { score: l.score }), reasons: l.reasons })),
  };
}

/** The placement decision of a create this node carries out (from its reservation), if any. */
export async function placedFor(store: Store, vm: string, node: string | undefined): Promise<PlacedDecision | undefined> {
  if (node === undefined) return undefined;
  const r = await store.collection<ReservationGroupFields>('reservations').get(vm);
  return r?.node === node ? r.decision : undefined;
}

/** The placement groups of a host or cluster: `hangar group …`, `/v1/groups`. */
export class PlacementGroups {
  constructor(private readonly store: Store) {}

  private get groups() {
    return this.store.collection<PlacementGroupRecord>('placement-groups');
  }

  async list(): Promise<GroupView[]> {
    const [groups, vms] = await Promise.all([this.groups.list(), this.store.listVms()]);
    return groups.sort((a, b) => (a.name < b.name ? -1 : 1)).map((g) => view(g, vms));
  }

  async get(name: string): Promise<GroupView> {
    const g = await this.groups.get(name);
    if (!g) throw notFound(name);
    return view(g, await this.store.listVms());
  }

  async create(input: { name: unknown; policy: unknown; enforcement?: unknown; description?: unknown }): Promise<GroupView> {
    const name = checkGroupName(input.name);
    if (input.policy !== 'affinity' && input.policy !== 'anti-affinity') {
      throw new HangarError('INVALID_SPEC', `policy must be affinity or anti-affinity, not ${String(input.policy)}.`, { details: { field: 'policy' } });
    }
    const enforcement = input.enforcement ?? 'hard';
    if (enforcement !== 'hard' && enforcement !== 'soft') throw new HangarError('INVALID_SPEC', `enforcement must be hard or soft, not ${String(enforcement)}.`, { details: { field: 'enforcement' } });
    if (input.description !== undefined && (typeof input.description !== 'string' || input.description.length > 256)) {
      throw new HangarError('INVALID_SPEC', 'description must be text of at most 256 characters.', { details: { field: 'description' } });
    }
    const record: PlacementGroupRecord = { name, policy: input.policy, enforcement, ...(input.description !== undefined && { description: input.description }), createdAt: new Date().toISOString() };
    if (!(await this.groups.create(name, record))) throw new HangarError('GROUP_EXISTS', `A placement group named "${name}" exists already.`);
    return view(record, []);
  }

  /** Refused while it has members, unless `force`: then they leave it (no VM moves). */
  async delete(name: string, force: boolean): Promise<void> {
    if (!(await this.groups.get(name))) throw notFound(name);
    const members = (await this.store.listVms()).filter((v) => v.group === name);
    if (members.length && !force) {
      throw new HangarError('GROUP_IN_USE', `Placement group "${name}" has ${members.length} member(s) (${members.slice(0, 3).map((m) => m.name).join(', ')}${members.length > 3 ? '…' : ''}): remove them (hangar group remove), or --force to drop the rule (no VM moves).`, { details: { vms: members.map((m) => m.name) } });
    }
    for (const m of members) await this.setGroup(m.name, name, undefined);
    await this.groups.delete(name);
  }

  /**
   * Joins a VM to a group (it leaves any other). In a cluster a hard rule is checked against
   * where the VM and the members are now: a join that would break it is refused
   * (PLACEMENT_IMPOSSIBLE); nothing moves.
   */
  async addMember(name: string, vm: string): Promise<GroupView> {
    const g = await this.groups.get(name);
    if (!g) throw notFound(name);
    const vms = await this.store.listVms();
    const rec = vms.find((v) => v.name === vm);
    if (!rec) throw new HangarError('VM_NOT_FOUND', `There is no VM "${vm}".`);
    if (rec.group !== name && rec.node && g.enforcement === 'hard') {
      const others = vms.filter((v) => v.group === name && v.node && v.name !== vm);
      const clash = g.policy === 'anti-affinity' ? others.filter((o) => o.node === rec.node) : others.filter((o) => o.node !== rec.node);
      if (clash.length) {
        throw new HangarError('PLACEMENT_IMPOSSIBLE', g.policy === 'anti-affinity'
          ? `VM "${vm}" is on node ${rec.node} with ${clash.map((c) => c.name).join(', ')} of hard anti-affinity group "${name}": move it first, or use a soft group.`
          : `VM "${vm}" is on node ${rec.node}, the members of hard affinity group "${name}" on ${[...new Set(clash.map((c) => c.node))].join(', ')}: move it first, or use a soft group.`, { details: { group: name, vms: clash.map((c) => c.name) } });
      }
    }
    await this.setGroup(vm, rec.group, name);
    return this.get(name);
  }

  async removeMember(name: string, vm: string): Promise<GroupView> {
    if (!(await this.groups.get(name))) throw notFound(name);
    const rec = await this.store.getVm(vm);
    if (!rec) throw new HangarError('VM_NOT_FOUND', `There is no VM "${vm}".`);
    if (rec.group !== name) throw new HangarError('NOT_FOUND', `VM "${vm}" is not in placement group "${name}".`, { details: { group: name } });
    await this.setGroup(vm, name, undefined);
    return this.get(name);
  }

  /** Writes the VM's group (its desired half, compare-and-swap) if it is still `from`. */
  private async setGroup(vm: string, from: string | undefined, to: string | undefined): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const rec = await this.store.getVm(vm);
      if (!rec || rec.group !== from) return;
      const { group: _old, ...desired } = splitVmRecord(rec).desired;
      try {
        await this.store.updateVmDesired({ ...desired, ...(to !== undefined && { group: to }) }, { expectRevision: rec.desiredRevision! });
        return;
      } catch (e) {
        if (!(e instanceof HangarError && e.code === 'CONFLICT')) throw e;
      }
    }
    throw new HangarError('CONFLICT', `VM "${vm}" kept changing: try again.`);
  }
}
