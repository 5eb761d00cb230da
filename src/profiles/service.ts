/**
 * Profiles: named sets of VM settings in the store's `profiles` collection. A VM uses
 * several, in order, its own values last (`spec.profiles`). Changing a profile, or a VM's
 * list, re-applies the merged values through `vm set`, whose live plan says what the running
 * guest gets now and what waits for its next start.
 */
import { errorText, HangarError } from '../errors/errors.js';
import type { Collection, Store, VmRecord } from '../store/store.js';
import type { CreateVmInput, SettingResult, VmSettings, VmView } from '../vm/service.js';
import type { IdentitySettings } from '../vm/identity.js';
import {
  checkProfileSettings, instanceType, PROFILE_KEYS, mergeSettings, patchSettings, recordOwn, settingsForChange, validateProfileName,
  type ProfileSettings, type VmProfileState,
} from './settings.js';

export interface ProfileRecord {
  name: string;
  description?: string;
  settings: ProfileSettings;
  createdAt: string;
  updatedAt: string;
}

export interface ProfileView extends ProfileRecord {
  /** The VMs that use it. */
  vms: string[];
}

/** What re-applying did to one VM. */
export interface ProfileVmChange {
  vm: string;
  state: string;
  changes: SettingResult[];
  /** Keys the running guest has now, and keys stored for its next start. */
  live: string[];
  nextStart: string[];
  /** Create-time settings that changed: this VM keeps its own. */
  createOnly: string[];
  /** Why this VM could not take the change (it keeps what it had; the profile is changed). */
  error?: string;
}

/** The part of the VM service profiles use. */
export interface ProfileVms {
  create(input: CreateVmInput): Promise<VmView>;
  set(name: string, settings: VmSettings & IdentitySettings, via?: { profiles: VmProfileState | null }): Promise<{ vm: VmView; changes: SettingResult[] }>;
}

export type CreateWithProfiles = CreateVmInput & { profiles?: string[]; type?: string };
export type SetWithProfiles = VmSettings & IdentitySettings & { profiles?: string[] };

export class ProfileService {
  private readonly col: Collection<ProfileRecord>;

  constructor(private readonly store: Store, private readonly vms: ProfileVms) {
    this.col = store.collection<ProfileRecord>('profiles');
  }

  async list(): Promise<ProfileView[]> {
    const users = await this.users();
    return (await this.col.list()).map((p) => ({ ...p, vms: users.get(p.name) ?? [] }));
  }

  async show(name: string): Promise<ProfileView> {
    const p = await this.get(name);
    return { ...p, vms: (await this.users()).get(name) ?? [] };
  }

  async create(name: string, settings: Record<string, unknown>, description?: string): Promise<ProfileView> {
    validateProfileName(name);
    const now = new Date().toISOString();
    const rec: ProfileRecord = { name, ...(description && { description }), settings: checkProfileSettings(settings), createdAt: now, updatedAt: now };
    if (!(await this.col.create(name, rec))) throw new HangarError('PROFILE_EXISTS', `A profile named "${name}" exists: change it with \`hangar profile set\`, or pick another name.`);
    return { ...rec, vms: [] };
  }

  /** Changes settings (null removes one) and re-applies them to every VM that uses the profile. */
  async set(name: string, patch: Record<string, unknown>, description?: string | null): Promise<{ profile: ProfileView; vms: ProfileVmChange[] }> {
    const entry = await this.col.entry(name);
    if (!entry) throw notFound(name);
    const before = entry.record;
    const next: ProfileRecord = { ...before, settings: patchSettings(before.settings, patch), updatedAt: new Date().toISOString() };
    if (description === null || description === '') delete next.description;
    else if (description !== undefined) next.description = description;
    await this.col.update(name, next, { expectRevision: entry.revision });
    const profiles = await this.profileMap();
    const oldMap = new Map(profiles);
    oldMap.set(name, before);
    const out: ProfileVmChange[] = [];
    for (const rec of await this.store.listVms()) {
      const state = rec.spec.profiles;
      if (!state?.names.includes(name)) continue;
      out.push(await this.reapply(rec, effective(state, oldMap), effective(state, profiles), state));
    }
    return { profile: { ...next, vms: out.map((c) => c.vm) }, vms: out };
  }

  /** Refused while VMs use it (PROFILE_IN_USE) unless `force`, which takes it off their lists (their values stay). */
  async delete(name: string, force = false): Promise<{ detached: string[] }> {
    await this.get(name);
    const users = (await this.store.listVms()).filter((r) => r.spec.profiles?.names.includes(name));
    if (users.length && !force) {
      throw new HangarError('PROFILE_IN_USE', `Profile "${name}" is used by ${users.map((r) => r.name).join(', ')}: take it off them (vm set NAME profiles=…) or delete with --force, which detaches it.`, { details: { vms: users.map((r) => r.name) } });
    }
    const map = await this.profileMap();
    for (const rec of users) {
      const state = rec.spec.profiles!;
      const names = state.names.filter((n) => n !== name);
      // The VM keeps the values it has: what only this profile gave becomes its own.
      const before = effective(state, map);
      const after = effective({ names, own: state.own }, map);
      const own: Record<string, unknown> = { ...state.own };
      for (const k of PROFILE_KEYS) if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) own[k] = before[k];
      await this.vms.set(rec.name, {}, { profiles: names.length || Object.keys(own).length ? { names, own: own as ProfileSettings } : null });
    }
    await this.col.delete(name);
    return { detached: users.map((r) => r.name) };
  }

  /** `vm create --profile a,b --type T`: profiles in order, then the type, then the VM's own fields. */
  async createVm(body: CreateWithProfiles): Promise<VmView> {
    const { profiles: names = [], type, ...input } = body;
    const own = ownOf(input);
    if (type !== undefined) {
      const t = instanceType(type);
      if (own.cpus === undefined) own.cpus = t.cpus;
      if (own.memory === undefined) own.memory = t.memory;
    }
    if (names.length === 0) return this.vms.create(type === undefined ? input : { ...input, cpus: own.cpus, memory: own.memory });
    const profiles = await this.resolve(names);
    const eff = mergeSettings([...profiles.map((p) => p.settings), own]);
    return this.vms.create({ ...createFields(input, eff), profileState: { names, own } });
  }

  /** `vm set NAME profiles=a,b [other settings]`: the merged values of the new list, then the other settings. */
  async setVm(name: string, body: SetWithProfiles): Promise<{ vm: VmView; changes: SettingResult[] }> {
    const { profiles: names, ...settings } = body;
    if (names === undefined) return this.vms.set(name, settings);
    const rec = await this.store.getVm(name);
    if (!rec) throw new HangarError('VM_NOT_FOUND', `No VM named "${name}".`);
    await this.resolve(names);
    const map = await this.profileMap();
    const old = rec.spec.profiles ?? { names: [], own: {} };
    const own = recordOwn(old.own, settings);
    const next = { names, own };
    const change = settingsForChange(effective(old, map), effective(next, map));
    const merged: SetWithProfiles = { ...change.settings, ...settings };
    if (change.settings.labels && settings.labels) merged.labels = [...change.settings.labels, ...settings.labels];
    return this.vms.set(name, merged, { profiles: names.length ? next : null });
  }

  private async reapply(rec: VmRecord, before: ProfileSettings, after: ProfileSettings, state: VmProfileState): Promise<ProfileVmChange> {
    const { settings, createOnly } = settingsForChange(before, after);
    let r: { vm: { state: string }; changes: SettingResult[] } = { vm: { state: rec.state }, changes: [] };
    try {
      if (Object.keys(settings).length) r = await this.vms.set(rec.name, settings, { profiles: state });
    } catch (e) {
      // One VM refusing (capacity, quota, busy) does not stop the others.
      return { vm: rec.name, state: rec.state, changes: [], live: [], nextStart: [], createOnly, error: errorText(e) };
    }
    return {
      vm: rec.name, state: r.vm.state, changes: r.changes, createOnly,
      live: r.changes.filter((c) => c.applied === 'live').map((c) => c.key),
      nextStart: r.changes.filter((c) => c.applied === 'next-start').map((c) => c.key),
    };
  }

  private async get(name: string): Promise<ProfileRecord> {
    const p = await this.col.get(name);
    if (!p) throw notFound(name);
    return p;
  }

  private async resolve(names: string[]): Promise<ProfileRecord[]> {
    if (new Set(names).size !== names.length) throw new HangarError('INVALID_SPEC', `A profile is named twice in ${names.join(',')}.`, { details: { field: 'profiles' } });
    return Promise.all(names.map((n) => this.get(n)));
  }

  private async profileMap(): Promise<Map<string, ProfileRecord>> {
    return new Map((await this.col.list()).map((p) => [p.name, p]));
  }

  private async users(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const rec of await this.store.listVms()) for (const n of rec.spec.profiles?.names ?? []) out.set(n, [...(out.get(n) ?? []), rec.name]);
    return out;
  }
}

function notFound(name: string): HangarError {
  return new HangarError('PROFILE_NOT_FOUND', `No profile named "${name}": see \`hangar profile list\`.`);
}

/** A VM's merged values: its profiles in order (those gone are skipped), its own last. */
export function effective(state: VmProfileState, profiles: Map<string, ProfileRecord>): ProfileSettings {
  return mergeSettings([...state.names.map((n) => profiles.get(n)?.settings ?? {}), state.own]);
}

/** The profile settings a create body names itself. */
export function ownOf(input: CreateVmInput): ProfileSettings {
  const pick: Record<string, unknown> = {
    cpus: input.cpus, memory: input.memory, maxCpus: input.maxCpus, maxMemory: input.maxMemory, cpuLimit: input.cpuLimit, cpuWeight: input.cpuWeight,
    labels: input.labels, ha: input.ha, haPriority: input.haPriority, autostart: input.autostart, restart: input.restart,
    cpuModel: input.cpuModel, machine: input.machine, diskBus: input.diskBus, diskCache: input.diskCache, nicModel: input.nicModel,
    networks: input.networks?.length ? input.networks : undefined, user: input.cloudInit?.user, sshKeys: input.cloudInit?.sshKeys,
  };
  return checkProfileSettings(pick);
}

/** A create input with the merged values in place of its own. */
export function createFields(input: CreateVmInput, eff: ProfileSettings): CreateVmInput {
  const { user, sshKeys, networks, ...rest } = eff;
  const out: CreateVmInput = { ...input, ...rest };
  if (networks?.length) out.networks = networks;
  if (user !== undefined || sshKeys !== undefined) out.cloudInit = { ...input.cloudInit, ...(user !== undefined && { user }), ...(sshKeys !== undefined && { sshKeys }) };
  return out;
}
