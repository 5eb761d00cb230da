import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type * as wire from '../contract/index.js';
import { HangarError } from '../errors/errors.js';
import { labelEdits, multisetDiff } from './execute.js';
import { observe, toDeclaration, type CurrentState } from './observe.js';
import { parseDeclarative } from './parse.js';
import { planApply } from './plan.js';
import { renderExport, renderPlan, selectForExport } from './render.js';

function vm(name: string, over: Partial<wire.Vm> = {}): wire.Vm {
  return {
    id: `id-${name}`, name, state: 'stopped', cpus: 1, memory: 128, memoryText: '128M', machine: 'q35', image: 'tiny', vnc: true, spice: false,
    maxCpus: 1, maxMemory: 128, restart: { mode: 'no', maxRestarts: 3, windowSeconds: 600 }, restartsInWindow: 0, forwards: [], project: 'default',
    nics: [{ id: 'net0', kind: 'network', mac: '52:54:00:00:00:01', network: 'lan' }], disks: [], createdAt: '', updatedAt: '', ...over,
  } as wire.Vm;
}

function state(over: Partial<CurrentState> = {}): CurrentState {
  return {
    vms: [], networks: [], volumes: [], profiles: [], schedules: [], pools: ['default'], images: ['tiny'],
    projects: [{ name: 'default', quotas: {}, usage: { vms: 0, cpus: 0, memoryMiB: 0, diskBytes: 0 }, createdAt: '' }],
    ...over,
  };
}

const net = (name: string, subnet: string) => ({ name, subnet, nat: false, isolated: false, bridge: `hg-${name}`, mode: 'routed', leases: [], vms: [], createdAt: '' }) as wire.Network;

const FILE = `kind: Network
name: lan
subnet: 10.77.0.0/24
---
kind: VM
name: web1
memory: 192M
networks: [lan]
labels: {tier: web}
`;

function refusal(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (e) {
    return e as HangarError;
  }
  throw new Error('not refused');
}

describe('planApply', () => {
  it('plans creations on an empty daemon, in dependency order', () => {
    const plan = planApply(parseDeclarative(FILE, 'f.yaml'), state());
    expect(plan.changes).toBe(true);
    expect(plan.steps.map((s) => `${s.action} ${s.kind}/${s.name}`)).toEqual(['create Network/lan', 'create VM/web1']);
    expect(renderPlan(plan)).toContain('Plan: 2 to create, 0 to change, 0 to delete, 0 unchanged.');
  });

  it('finds nothing to do when everything matches (sizes compared canonically)', () => {
    const s = state({ networks: [net('lan', '10.77.0.0/24')], vms: [vm('web1', { memory: 192, maxMemory: 192, labels: { tier: 'web' } })] });
    const plan = planApply(parseDeclarative(FILE, 'f.yaml'), s);
    expect(plan.changes).toBe(false);
    expect(plan.steps.every((s) => s.action === 'unchanged')).toBe(true);
  });

  it('lists exactly the fields that differ, live on a running VM within its maximum, else at the next start', () => {
    const running = vm('web1', { state: 'running', memory: 128, maxMemory: 256, cpus: 1, maxCpus: 1, labels: { tier: 'db', old: 'x' } });
    const file = FILE.replace('memory: 192M', 'memory: 192M\ncpus: 2');
    const plan = planApply(parseDeclarative(file, 'f.yaml'), state({ networks: [net('lan', '10.77.0.0/24')], vms: [running] }));
    const step = plan.steps.find((s) => s.kind === 'VM')!;
    expect(step.action).toBe('change');
    expect(step.changes).toEqual([
      { field: 'memory', from: 128, to: 192, when: 'live' },
      { field: 'cpus', from: 1, to: 2, when: 'next-start' },
      { field: 'labels', from: { old: 'x', tier: 'db' }, to: { tier: 'web' }, when: 'live' },
    ]);
    const text = renderPlan(plan);
    expect(text).toContain('memory: 128M → 192M (live)');
    expect(text).toContain('labels.tier: db → web (live)');
    expect(text).toContain('labels.old: x → (unset) (live)');
    expect(text).toContain('cpus: 1 → 2 (needs restart: at the next start)');
    expect(labelEdits(step.changes[2]!.from as Record<string, string>, step.changes[2]!.to as Record<string, string>)).toEqual(['old-', 'tier=web']);
  });

  it('refuses references to what neither the file nor the daemon has, with file and line, before anything', () => {
    const e = refusal(() => planApply(parseDeclarative('kind: VM\nname: a\nnetworks: [lan]\nvolumes: [d1]\nproject: web\nimage: nope\n', 'x.yaml'), state()));
    expect(e.code).toBe('APPLY_INVALID');
    expect(e.message).toContain('x.yaml:3: VM "a": field "networks": network "lan" is neither in the file nor on the daemon');
    expect(e.message).toContain('x.yaml:4: VM "a": field "volumes": volume "default/d1"');
    expect(e.message).toContain('x.yaml:5: VM "a": field "project": project "web"');
    expect(e.message).toContain('x.yaml:6: VM "a": field "image": image "nope" does not exist');
    const pool = refusal(() => planApply(parseDeclarative('kind: Volume\nname: d\npool: fast\nsize: 1G\n', 'v.yaml'), state()));
    expect(pool.message).toContain('v.yaml:3: Volume "d": field "pool": pool "fast" does not exist');
  });

  it('refuses a change of a field that cannot change in place (APPLY_IMMUTABLE), and a shrinking volume', () => {
    const s = state({ networks: [net('lan', '10.77.0.0/24')], vms: [vm('web1', { memory: 192, maxMemory: 192 })] });
    const e = refusal(() => planApply(parseDeclarative(FILE.replace('10.77.0.0/24', '10.78.0.0/24'), 'f.yaml'), s));
    expect(e.code).toBe('APPLY_IMMUTABLE');
    expect(e.message).toContain('f.yaml:3: Network "lan": field "subnet": 10.77.0.0/24 → 10.78.0.0/24 cannot change in place');
    const vol = { pool: 'default', name: 'd', format: 'qcow2', sizeBytes: 2 ** 30, path: '/x', createdAt: '' } as wire.Volume;
    const shrink = refusal(() => planApply(parseDeclarative('kind: Volume\nname: d\nsize: 512M\n', 'v.yaml'), state({ volumes: [vol] })));
    expect(shrink.message).toContain('v.yaml:3: Volume "d": field "size"');
    const grow = planApply(parseDeclarative('kind: Volume\nname: d\nsize: 2G\n', 'v.yaml'), state({ volumes: [vol] }));
    expect(grow.steps[0]!.changes).toEqual([{ field: 'size', from: 2 ** 30, to: 2 ** 31, when: 'live' }]);
  });

  it('with prune, deletes what the file does not name, never the default project or a VM\'s own volumes', () => {
    const owned = { pool: 'default', name: 'web2-root', format: 'qcow2', sizeBytes: 1, path: '/x', ownedBy: 'web2', createdAt: '' } as wire.Volume;
    const s = state({ networks: [net('lan', '10.77.0.0/24')], vms: [vm('web1', { memory: 192, maxMemory: 192, labels: { tier: 'web' } }), vm('web2')], volumes: [owned] });
    const plan = planApply(parseDeclarative(FILE, 'f.yaml'), s, { prune: true });
    expect(plan.steps.filter((x) => x.action === 'delete').map((x) => `${x.kind}/${x.name}`)).toEqual(['VM/web2']);
    expect(planApply(parseDeclarative(FILE, 'f.yaml'), s).changes).toBe(false);
  });

  it('export writes what applies back unchanged', () => {
    const vol = { pool: 'default', name: 'd1', format: 'qcow2', sizeBytes: 64 * 2 ** 20, path: '/x', attachedTo: 'web1', createdAt: '' } as wire.Volume;
    const s = state({
      networks: [net('lan', '10.77.0.0/24')], volumes: [vol],
      projects: [...state().projects, { name: 'web', description: 'the web', quotas: { vms: 4, memoryMiB: 2048 }, usage: { vms: 1, cpus: 1, memoryMiB: 128, diskBytes: 0 }, createdAt: '' }],
      vms: [vm('web1', {
        state: 'running', project: 'web', cpus: 2, maxCpus: 4, memory: 192, maxMemory: 512, cpuLimit: 50, labels: { tier: 'web' }, description: 'front',
        autostart: { order: 2, delaySeconds: 5 }, restart: { mode: 'on-failure', maxRestarts: 3, windowSeconds: 600 },
        cloudInit: { format: 'nocloud', hostname: 'w1', sshKeys: 1, password: false, userData: false, networkConfig: false },
        disks: [{ id: 'disk1', pool: 'default', volume: 'd1', path: '/x', format: 'qcow2', readOnly: false, boot: false }],
        forwards: ['tcp:127.0.0.1:2222:22'], tpm: { model: 'crb', version: '2.0' },
      })],
    });
    const text = renderExport(observe(s));
    expect(text).toContain('# SSH keys, password, user-data and network-config are sent at create only');
    expect(text).toContain('size: 64M');
    expect(text).toContain('# Not carried by this file (not declarative yet): TPM, port forwards tcp:127.0.0.1:2222:22.\napiVersion: hangar/v1\nkind: VM');
    const docs = text.split('---\n').map((d) => parse(d) as Record<string, unknown>);
    expect(docs.map((d) => `${String(d.kind)}/${String(d.name)}`)).toEqual(['Project/default', 'Project/web', 'Network/lan', 'Volume/d1', 'VM/web1']);
    expect(docs[4]).toMatchObject({ memory: '192M', maxMemory: '512M', volumes: ['d1'], state: 'running', autostart: true, restart: 'on-failure', cloudInit: { format: 'nocloud', hostname: 'w1' } });
    const plan = planApply(parseDeclarative(text, 'export.yaml'), s, { prune: true });
    expect(plan.changes).toBe(false);
  });
});

describe('multisetDiff', () => {
  it('adds and removes one by one', () => {
    expect(multisetDiff(['a', 'a', 'b'], ['a', 'c'])).toEqual({ add: ['c'], remove: ['a', 'b'] });
  });
  it('profiles: created before the VMs that use them, references checked, a settings change planned as a whole, exported without what they give', () => {
    const file = 'kind: Profile\nname: web\nsettings:\n  memory: 192M\n  labels: {tier: web}\n---\nkind: VM\nname: a\nprofiles: [web]\n';
    const plan = planApply(parseDeclarative(file, 'p.yaml'), state());
    expect(plan.steps.map((s) => `${s.action} ${s.kind}/${s.name}`)).toEqual(['create Profile/web', 'create VM/a']);
    const missing = refusal(() => planApply(parseDeclarative('kind: VM\nname: a\nprofiles: [nope]\n', 'p.yaml'), state()));
    expect(missing.message).toContain('p.yaml:3: VM "a": field "profiles": profile "nope" is neither in the file nor on the daemon');
    const profile = { name: 'web', settings: { memory: 128, labels: { tier: 'web' } }, vms: ['a'], createdAt: '', updatedAt: '' } as wire.Profile;
    const using = vm('a', { memory: 128, maxMemory: 128, labels: { tier: 'web' }, profiles: ['web'], ownSettings: [] });
    const changed = planApply(parseDeclarative(file, 'p.yaml'), state({ profiles: [profile], vms: [using] }));
    expect(changed.steps.find((s) => s.kind === 'Profile')!.changes).toEqual([{ field: 'settings', from: { labels: { tier: 'web' }, memory: 128 }, to: { labels: { tier: 'web' }, memory: 192 }, when: 'live' }]);
    expect(changed.steps.find((s) => s.kind === 'VM')!.action).toBe('unchanged');
    const exported = selectForExport(state({ profiles: [profile], vms: [using] }), []).filter((o) => o.kind !== 'Project').map(toDeclaration);
    expect(exported[0]).toEqual({ apiVersion: 'hangar/v1', kind: 'Profile', name: 'web', settings: { labels: { tier: 'web' }, memory: '128M' } });
    expect(exported[1]).toMatchObject({ kind: 'VM', name: 'a', profiles: ['web'] });
    expect(exported[1]).not.toHaveProperty('memory');
    expect(exported[1]).not.toHaveProperty('labels');
  });
  it('backup schedules: named after their VM, periods compared in seconds, a change replaces the schedule, exported back as written', () => {
    const file = 'kind: VM\nname: a\n---\nkind: BackupSchedule\nname: a\nevery: 1d\nat: "2:00"\nkeepLast: 7\n';
    const plan = planApply(parseDeclarative(file, 'b.yaml'), state());
    expect(plan.steps.map((s) => `${s.action} ${s.kind}/${s.name}`)).toEqual(['create VM/a', 'create BackupSchedule/a']);
    const orphan = refusal(() => planApply(parseDeclarative('kind: BackupSchedule\nname: ghost\nevery: 6h\n', 'b.yaml'), state()));
    expect(orphan.message).toContain('b.yaml:1: BackupSchedule "ghost": there is no VM "ghost"');
    const bad = refusal(() => parseDeclarative('kind: BackupSchedule\nname: a\nevery: sometimes\n', 'b.yaml'));
    expect(bad.message).toContain('b.yaml:3: BackupSchedule "a": field "every"');
    const sched = { vm: 'a', vmId: 'id-a', repo: 'main', every: '24h', everySeconds: 86_400, at: '02:00', keepLast: 7, createdAt: '', nextRunAt: '', running: false } as wire.BackupSchedule;
    const s = state({ vms: [vm('a')], schedules: [sched] });
    expect(planApply(parseDeclarative(file, 'b.yaml'), s).changes).toBe(false);
    const changed = planApply(parseDeclarative(file.replace('keepLast: 7', 'keepLast: 3'), 'b.yaml'), s);
    expect(changed.steps.find((x) => x.kind === 'BackupSchedule')!.changes).toEqual([{ field: 'keepLast', from: 7, to: 3, when: 'live' }]);
    const exported = selectForExport(s, ['backupschedule/a']).map(toDeclaration);
    expect(exported).toEqual([{ apiVersion: 'hangar/v1', kind: 'BackupSchedule', name: 'a', every: '1d', at: '02:00', repo: 'main', keepLast: 7 }]);
  });
});
