/** `hangar profile …` (named sets of VM settings, src/profiles) and `hangar type list` (instance types). */
import type { Command } from 'commander';
import { resolve as resolvePath } from 'node:path';
import { HangarError } from '../errors/errors.js';
import type { ApiClient } from '../client/index.js';
import type { Profile, ProfileSettingsPatch, SetProfileReply } from '../contract/index.js';
import { render, renderFields, renderTable, type OutputFormat } from './output.js';

type Globals = (cmd: Command) => { output: OutputFormat; client: ApiClient };
const print = (text: string) => process.stdout.write(text);
const collect = (v: string, prev: string[]) => [...prev, v];

const KEYS: Record<string, string> = {
  cpus: 'cpus', memory: 'memory', 'max-cpus': 'maxCpus', 'max-memory': 'maxMemory', 'cpu.limit': 'cpuLimit', 'cpu.weight': 'cpuWeight',
  labels: 'labels', ha: 'ha', 'ha.priority': 'haPriority', autostart: 'autostart', restart: 'restart', 'cpu-model': 'cpuModel', machine: 'machine',
  'disk-bus': 'diskBus', 'disk-cache': 'diskCache', 'nic-model': 'nicModel', networks: 'networks', user: 'user', 'ssh-key': 'sshKeys',
};

/** `key=value` pairs → profile settings; an empty value or `none` removes the key (null). */
export async function parseProfilePairs(pairs: string[]): Promise<ProfileSettingsPatch> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new HangarError('INVALID_SPEC', `"${pair}" is not key=value (e.g. cpus=2).`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const name = KEYS[key];
    if (!name) throw new HangarError('INVALID_SPEC', `Unknown profile setting "${key}": use ${Object.keys(KEYS).join(', ')}.`);
    if (value === '' || value === 'none') {
      out[name] = null;
      continue;
    }
    switch (name) {
      case 'cpus': case 'maxCpus': case 'cpuWeight': case 'haPriority':
        if (!/^\d+$/.test(value)) throw new HangarError('INVALID_SPEC', `${key} must be a whole number, not "${value}".`);
        out[name] = Number(value);
        break;
      case 'ha': case 'autostart':
        if (value !== 'true' && value !== 'false') throw new HangarError('INVALID_SPEC', `${key} must be true or false, not "${value}".`);
        out[name] = value === 'true';
        break;
      case 'labels':
        out[name] = Object.fromEntries(value.split(',').map((kv) => {
          const i = kv.indexOf('=');
          if (i <= 0) throw new HangarError('INVALID_SPEC', `labels must be k=v,k2=v2, not "${value}".`);
          return [kv.slice(0, i), kv.slice(i + 1)];
        }));
        break;
      case 'networks': out[name] = value.split(',').map((n) => n.trim()).filter(Boolean); break;
      case 'sshKeys': {
        const ci = await import('../cloudinit/index.js');
        out[name] = await ci.readSshKeyFile(resolvePath(value));
        break;
      }
      default: out[name] = value;
    }
  }
  return out as ProfileSettingsPatch;
}

function settingsText(s: Record<string, unknown>): string {
  return Object.entries(s).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' && v ? Object.entries(v).map(([a, b]) => `${a}=${String(b)}`).join(',') : String(v)}`).join(' ');
}

function showProfile(format: OutputFormat, p: Profile): void {
  print(render(format, p, () => renderFields([
    ['name', p.name], ['description', p.description], ['settings', settingsText(p.settings) || 'none'], ['vms', p.vms.join(', ') || 'none'], ['created', p.createdAt], ['updated', p.updatedAt],
  ])));
}

function showReapply(format: OutputFormat, r: SetProfileReply): void {
  print(render(format, r, () => `Profile ${r.profile.name} changed: ${settingsText(r.profile.settings) || 'no settings'}.\n${r.vms.length === 0 ? 'No VM uses it.\n' : renderTable(r.vms, [
    { header: 'VM', value: (v) => v.vm },
    { header: 'STATE', value: (v) => v.state },
    { header: 'LIVE', value: (v) => v.live.join(',') || '-' },
    { header: 'AT NEXT START', value: (v) => v.nextStart.join(',') || '-' },
    { header: 'NEW VMS ONLY', value: (v) => v.createOnly.join(',') || '-' },
    ...(r.vms.some((v) => v.error) ? [{ header: 'ERROR', value: (v: SetProfileReply['vms'][number]) => v.error }] : []),
  ])}`));
}

interface CreateFlags {
  cpus?: string; memory?: string; cpuModel?: string; machine?: string; diskBus?: string; diskCache?: string; nicModel?: string;
  network: string[]; label: string[]; user?: string; sshKey?: string; ha?: boolean; description?: string; set: string[];
}

export function addProfileCommands(program: Command, globals: Globals): void {
  const profile = program.command('profile').description('Profiles: named sets of VM settings; a VM uses several, in order, its own settings last');

  profile.command('create')
    .description('Create a profile from settings flags and/or --set key=value pairs')
    .argument('<name>', 'lower-case letters, digits and hyphens')
    .option('--cpus <n>', 'vCPUs')
    .option('--memory <size>', 'memory, e.g. 512M or 2G')
    .option('--cpu-model <model>', 'QEMU CPU model (new VMs)')
    .option('--machine <type>', 'q35, pc or microvm (new VMs)')
    .option('--disk-bus <bus>', 'virtio-blk, virtio-scsi, sata or nvme (new VMs)')
    .option('--disk-cache <mode>', 'none, writeback, writethrough, directsync or unsafe (new VMs)')
    .option('--nic-model <model>', 'virtio, e1000e or rtl8139 (new VMs)')
    .option('--network <name>', 'managed network for the NICs (repeatable; new VMs)', collect, [])
    .option('--label <k=v>', 'a label (repeatable)', collect, [])
    .option('--user <name>', 'cloud-init user (new VMs)')
    .option('--ssh-key <file>', 'cloud-init: authorize the public keys in this file (new VMs)')
    .option('--ha', 'high availability')
    .option('--description <text>', 'what it is for')
    .option('--set <key=value>', 'any setting as in `profile set` (repeatable)', collect, [])
    .action(async (name: string, o: CreateFlags, cmd: Command) => {
      const g = globals(cmd);
      const pairs: string[] = [];
      const flag = (key: string, v: string | undefined) => { if (v !== undefined) pairs.push(`${key}=${v}`); };
      flag('cpus', o.cpus); flag('memory', o.memory); flag('cpu-model', o.cpuModel); flag('machine', o.machine); flag('disk-bus', o.diskBus);
      flag('disk-cache', o.diskCache); flag('nic-model', o.nicModel); flag('user', o.user); flag('ssh-key', o.sshKey);
      if (o.network.length) pairs.push(`networks=${o.network.join(',')}`);
      if (o.label.length) pairs.push(`labels=${o.label.join(',')}`);
      if (o.ha) pairs.push('ha=true');
      const settings = Object.fromEntries(Object.entries(await parseProfilePairs([...pairs, ...o.set])).filter(([, v]) => v !== null));
      const p = await g.client.profiles.create({ name, settings, ...(o.description !== undefined && { description: o.description }) });
      print(render(g.output, p, () => `Profile ${p.name} created: ${settingsText(p.settings) || 'no settings'}.\n`));
    });

  profile.command('set')
    .description('Change settings (key= or key=none removes one) and re-apply them to the VMs that use the profile: each is listed with what changed live and what at its next start. Keys: cpus, memory, max-cpus, max-memory, cpu.limit, cpu.weight, labels (k=v,k2=v2), ha, ha.priority, autostart, restart; new VMs only: cpu-model, machine, disk-bus, disk-cache, nic-model, networks, user, ssh-key (a file)')
    .argument('<name>')
    .argument('[settings...]', 'key=value pairs, e.g. memory=1G cpus=2')
    .option('--description <text>', 'a new description ("" clears it)')
    .action(async (name: string, pairs: string[], o: { description?: string }, cmd: Command) => {
      const g = globals(cmd);
      showReapply(g.output, await g.client.profiles.set(name, { settings: await parseProfilePairs(pairs), ...(o.description !== undefined && { description: o.description }) }));
    });

  profile.command('show').description('Show a profile: its settings and the VMs it affects').argument('<name>').action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    showProfile(g.output, await g.client.profiles.get(name));
  });

  profile.command('list').alias('ls').description('List profiles').action(async (_o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const ps = await g.client.profiles.list();
    print(render(g.output, ps, () => renderTable(ps, [
      { header: 'NAME', value: (p) => p.name }, { header: 'SETTINGS', value: (p) => settingsText(p.settings) || '-' }, { header: 'VMS', value: (p) => p.vms.join(',') || '-' },
    ])));
  });

  profile.command('delete').alias('rm')
    .description('Delete a profile (refused while VMs use it)')
    .argument('<name>')
    .option('--force', 'detach it from its VMs first (they keep its values as their own)')
    .action(async (name: string, o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const r = await g.client.profiles.delete(name, o.force === true);
      print(render(g.output, { name, deleted: true, ...r }, () => `Profile ${name} deleted${r.detached.length ? ` (detached from ${r.detached.join(', ')})` : ''}.\n`));
    });

  program.command('type').description('Instance types for `vm create --type`')
    .command('list').alias('ls').description('List the built-in instance types (cN-mM also works: N vCPUs, M GiB)')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const ts = await g.client.profiles.instanceTypes();
      print(render(g.output, ts, () => `${renderTable(ts, [{ header: 'TYPE', value: (t) => t.name }, { header: 'CPUS', value: (t) => t.cpus }, { header: 'MEMORY', value: (t) => `${t.memory / 1024}G` }])}Also cN-mM: N vCPUs and M GiB, e.g. c2-m4.\n`));
    });
}
