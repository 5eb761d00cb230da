/**
 * Declarative state (issue 18): `hangar diff`, `apply` and `export` against real daemons. A
 * file with a project, two networks, a data volume, a profile, three tiny VMs (one booted, one
 * with the volume and the profile) and a backup schedule: diff lists
 * the creations (exit 2), apply makes them, a second apply changes nothing (diff exit 0);
 * editing memory and a label shows exactly those and applies them (memory live); prune needs
 * --yes; bad files are refused with file:line and nothing created; the export of the first
 * daemon applied to a second, empty one reproduces the same VMs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, waitForGuestReady } from './harness.js';

const third = 100 + Math.floor(Math.random() * 100);
const tmp = mkdtempSync('/tmp/hgdecl-');
let d1: TestDaemon | undefined;
let d2: TestDaemon | undefined;

const FILE = `# the shop: two networks, a data volume, three VMs
kind: Project
name: shop
maxVms: 5
---
kind: Network
name: front
subnet: 10.231.${third}.0/24
nat: true
---
kind: Network
name: back
subnet: 10.232.${third}.0/24
isolated: true
---
kind: Volume
name: shopdata
size: 64M
---
kind: Profile
name: db
settings:
  cpus: 2
  labels: {backup: daily}
---
- kind: VM
  name: web1
  project: shop
  memory: 256M
  maxMemory: 512M
  networks: [front]
  labels: {tier: web}
  state: running
- kind: VM
  name: web2
  project: shop
  memory: 128M
  networks: [front]
  labels: {tier: web}
- kind: VM
  name: db1
  project: shop
  memory: 128M
  profiles: [db]
  networks: [back]
  volumes: [shopdata]
  labels: {tier: db}
  description: the database
---
kind: BackupSchedule
name: db1
repo: shoprepo
every: 1d
at: "02:00"
keepLast: 7
`;

function write(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

/** What must be the same on both daemons. */
function specOf(v: Vm) {
  return {
    name: v.name, project: v.project, cpus: v.cpus, memory: v.memory, maxMemory: v.maxMemory, image: v.image, machine: v.machine,
    networks: v.nics.map((n) => n.network ?? 'user'), volumes: v.disks.filter((x) => x.volume === 'shopdata').map((x) => `${x.pool}/${x.volume}`),
    labels: v.labels ?? {}, description: v.description, state: v.state, profiles: v.profiles ?? [],
  };
}
const specs = async (d: TestDaemon) => (await d.api.vms.list()).map(specOf).sort((a, b) => a.name.localeCompare(b.name));

beforeAll(async () => {
  d1 = await TestDaemon.start({ netPrefix: 'hgd' });
});
afterAll(async () => {
  await d1?.cleanup();
  await d2?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

describe('hangar diff / apply / export', () => {
  let exported = '';
  let firstSpecs: ReturnType<typeof specOf>[] = [];

  it('diff lists the creations (exit 2); apply makes them; a second apply changes nothing', async () => {
    const d = d1!;
    const file = write('shop.yaml', FILE);
    // Backup repositories are not declarative: the schedule's is made first.
    let r = await d.cli(['backup-repo', 'create', 'shoprepo', '--path', join(tmp, 'repo1')]);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['diff', '-f', file]);
    expect(r.code, r.stderr).toBe(2);
    for (const what of ['Project shop', 'Network front', 'Network back', 'Volume default/shopdata', 'Profile db', 'VM web1', 'VM web2', 'VM db1', 'BackupSchedule db1']) expect(r.stdout).toContain(`+ create ${what}`);
    expect(r.stdout).toContain('Plan: 9 to create, 0 to change, 0 to delete');

    r = await d.cli(['apply', '-f', file], undefined, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('VM web1: created; started');
    expect(r.stdout).toContain('VM db1: created; volume default/shopdata attached');
    const db1 = await d.vm('db1');
    expect(db1.disks.map((x) => x.volume)).toContain('shopdata');
    expect(db1.nics.map((n) => n.network)).toEqual(['back']);
    // The profile gives 2 vCPUs and a label; the VM's own label goes with it.
    expect(db1).toMatchObject({ cpus: 2, profiles: ['db'], labels: { backup: 'daily', tier: 'db' } });
    expect(await d.api.backups.schedules()).toMatchObject([{ vm: 'db1', repo: 'shoprepo', everySeconds: 86_400, at: '02:00', keepLast: 7 }]);
    expect((await d.vm('web1')).state).toBe('running');
    expect((await d.vm('web2')).state).toBe('stopped');

    r = await d.cli(['diff', '-f', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Plan: 0 to create, 0 to change, 0 to delete, 9 unchanged.');
    r = await d.cli(['apply', '-f', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Nothing to change');
  }, 150_000);

  it('editing memory and a label shows exactly those, and applies them (memory live on the running VM)', async () => {
    const d = d1!;
    await waitForGuestReady(d, 'web1');
    const edited = FILE.replace('memory: 256M', 'memory: 384M').replace('name: web2\n  project: shop\n  memory: 128M\n  networks: [front]\n  labels: {tier: web}', 'name: web2\n  project: shop\n  memory: 128M\n  networks: [front]\n  labels: {tier: api}');
    const file = write('shop2.yaml', edited);
    let r = await d.cli(['diff', '-f', file, '--output', 'json']);
    expect(r.code, r.stderr).toBe(2);
    const plan = JSON.parse(r.stdout) as { steps: { action: string; kind: string; name: string; changes?: unknown[] }[] };
    expect(plan.steps.filter((s) => s.action !== 'unchanged')).toEqual([
      { action: 'change', kind: 'VM', name: 'web1', changes: [{ field: 'memory', from: 256, to: 384, when: 'live' }] },
      { action: 'change', kind: 'VM', name: 'web2', changes: [{ field: 'labels', from: { tier: 'web' }, to: { tier: 'api' }, when: 'live' }] },
    ]);
    r = await d.cli(['diff', '-f', file]);
    expect(r.stdout).toContain('memory: 256M → 384M (live)');
    expect(r.stdout).toContain('labels.tier: web → api (live)');

    r = await d.cli(['apply', '-f', file], undefined, 90_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VM web1: memory → 384 \(live: hot-plugged\)/);
    expect(r.stdout).toContain('VM web2: labels');
    const web1 = await d.vm('web1');
    expect(web1.memory).toBe(384);
    expect(web1.pending ?? []).not.toContain('memory');
    expect((await d.vm('web2')).labels).toEqual({ tier: 'api' });
    r = await d.cli(['diff', '-f', file]);
    expect(r.code, r.stdout).toBe(0);
    firstSpecs = await specs(d);
  }, 120_000);

  it('export writes YAML that applies back unchanged; prune needs --yes', async () => {
    const d = d1!;
    let r = await d.cli(['export']);
    expect(r.code, r.stderr).toBe(0);
    exported = r.stdout;
    expect(exported).toContain('kind: VM\nname: db1');
    r = await d.cli(['diff', '-f', '-', '--prune'], exported);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    r = await d.cli(['export', 'vm/web2', 'network/front']);
    expect(r.stdout.split('---\n').map((doc) => /^kind: (\w+)\nname: (\S+)/m.exec(doc)?.slice(1).join('/'))).toEqual(['VM/web2', 'Network/front']);
    r = await d.cli(['export', 'vm/nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('NOT_FOUND');

    // Pruning everything the (empty) file does not name: refused without --yes, nothing deleted.
    const empty = write('empty.yaml', '# nothing\n');
    r = await d.cli(['apply', '-f', empty, '--prune']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONFIRMATION_REQUIRED: --prune would delete .*VM web1.*add --yes/);
    expect((await d.api.vms.list()).length).toBe(3);
    r = await d.cli(['diff', '-f', empty, '--prune']);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('- delete (prune) VM db1');
    expect(r.stdout).not.toContain('Project default');
    r = await d.cli(['apply', '-f', empty, '--prune', '--yes'], undefined, 90_000);
    expect(r.code, r.stderr).toBe(0);
    expect(await d.api.vms.list()).toEqual([]);
    expect(await d.api.networks.list()).toEqual([]);
    expect((await d.api.projects.list()).map((p) => p.name)).toEqual(['default']);
    await d.cleanup();
    d1 = undefined;
  }, 120_000);

  it('bad files are refused with file:line, and nothing is created', async () => {
    d2 = await TestDaemon.start({ netPrefix: 'hge' });
    const d = d2;
    const cases: [string, string, RegExp][] = [
      ['unknown.yaml', 'kind: Network\nname: n1\nsubnet: 10.233.0.0/24\n---\nkind: VM\nname: a\nmemroy: 128M\n', /unknown\.yaml:7: VM "a": field "memroy" is not known/],
      ['type.yaml', 'kind: Network\nname: n1\nsubnet: 10.233.0.0/24\n---\nkind: VM\nname: a\ncpus: two\n', /type\.yaml:7: VM "a": field "cpus" must be a whole number, not string "two"/],
      ['missing.yaml', 'kind: Network\nname: n1\nsubnet: 10.233.0.0/24\n---\nkind: VM\nname: a\nnetworks:\n  - n1\n  - nowhere\n', /missing\.yaml:7: VM "a": field "networks": network "nowhere" is neither in the file nor on the daemon/],
    ];
    for (const [name, text, re] of cases) {
      for (const cmd of ['diff', 'apply']) {
        const r = await d.cli([cmd, '-f', write(name, text)]);
        expect(r.code, `${cmd} ${name}`).toBe(1);
        expect(r.stderr).toMatch(/APPLY_INVALID: /);
        expect(r.stderr).toMatch(re);
      }
    }
    expect(await d.api.vms.list()).toEqual([]);
    expect(await d.api.networks.list()).toEqual([]);
  }, 60_000);

  it('the export applied to a second, empty daemon reproduces the same VMs', async () => {
    const d = d2!;
    const file = write('export.yaml', exported);
    let r = await d.cli(['backup-repo', 'create', 'shoprepo', '--path', join(tmp, 'repo2')]);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['apply', '-f', file], undefined, 150_000);
    expect(r.code, r.stderr).toBe(0);
    r = await d.cli(['diff', '-f', file, '--prune']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await specs(d)).toEqual(firstSpecs);
    expect(await d.api.backups.schedules()).toMatchObject([{ vm: 'db1', repo: 'shoprepo', everySeconds: 86_400, at: '02:00', keepLast: 7 }]);
  }, 180_000);
});
