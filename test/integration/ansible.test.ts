/**
 * Ansible (Debian's ansible-core) against a real daemon: the dynamic inventory script
 * (contrib/ansible/hangar_inventory.sh → `hangar inventory`) lists the VMs in their groups;
 * a playbook with the hangar_vm module (contrib/ansible/library) creates and starts a
 * debian-12 guest with cloud-init (a key made here) and an SSH forward; `ansible -m ping`
 * reaches it over SSH through the inventory; the playbook again changes nothing; check mode
 * reports a change without making it; state=absent deletes, once.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/etcd/test-etcd.js';
import { ROOT, TestDaemon, waitFor } from './harness.js';

/** On PATH (found, not run: running Ansible would make ~/.ansible). */
const hasAnsible = (process.env['PATH'] ?? '').split(':').some((dir) => {
  try {
    accessSync(join(dir, 'ansible-playbook'), constants.X_OK);
    return true;
  } catch {
    return false;
  }
});
const INVENTORY = join(ROOT, 'contrib', 'ansible', 'hangar_inventory.sh');
const LIBRARY = join(ROOT, 'contrib', 'ansible', 'library');

let d: TestDaemon;
let key = '';
let port = 0;


/** Whether an SSH server answers on 127.0.0.1:port (QEMU's forward accepts at once; the banner comes from sshd). */
function sshBanner(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(p, '127.0.0.1');
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(5000, () => done(false));
    sock.once('data', (b: Buffer) => done(b.toString('latin1').startsWith('SSH-')));
    sock.once('error', () => done(false));
    sock.once('close', () => done(false));
  });
}

interface Run { code: number; stdout: string; stderr: string }

/** Runs an Ansible command in the test's dir, with the daemon's socket and the module library in its environment. */
function ansible(cmd: string, args: string[], timeoutMs = 120_000): Promise<Run> {
  const env = {
    ...process.env,
    HANGAR_SOCKET: d.socket,
    ANSIBLE_LIBRARY: LIBRARY,
    ANSIBLE_HOME: join(d.dir, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: join(d.dir, 'ansible-tmp'),
    // the module's temp dir on localhost (and in the guest): not ~/.ansible/tmp
    ANSIBLE_REMOTE_TEMP: join(d.dir, 'ansible-remote-tmp'),
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_HOST_KEY_CHECKING: 'False',
    ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
    ANSIBLE_PRIVATE_KEY_FILE: key,
    ANSIBLE_TIMEOUT: '10',
    // No ControlPersist: no SSH master outlives the test.
    ANSIBLE_SSH_ARGS: '-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o ControlMaster=no',
  };
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: d.dir, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** localhost's counts in the PLAY RECAP. */
function recap(r: Run): { ok: number; changed: number; failed: number } {
  const m = /localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/.exec(r.stdout);
  if (!m) throw new Error(`no PLAY RECAP in:\n${r.stdout}\n${r.stderr}`);
  return { ok: Number(m[1]), changed: Number(m[2]), failed: Number(m[3]) };
}

/** The result JSON an ad-hoc `ansible localhost -m …` prints after `=>`. */
function adhocResult(r: Run): { changed: boolean; actions: string[]; vm?: { state: string; memory: number }; msg?: string } {
  const at = r.stdout.indexOf('=> {');
  if (at < 0) throw new Error(`no result in:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.slice(at + 3)) as { changed: boolean; actions: string[]; vm?: { state: string; memory: number } };
}

const module = (args: Record<string, unknown>, extra: string[] = []) =>
  ansible('ansible', ['localhost', '-i', 'localhost,', '-c', 'local', '-m', 'hangar_vm', '-a', JSON.stringify(args), ...extra]);

const playbook = () => `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: web1, a Debian guest with cloud-init, running
      hangar_vm:
        name: web1
        image: debian-12
        cpus: 2
        memory: "{{ memory | default('1G') }}"
        disk_size: 4G
        forwards: ["tcp:127.0.0.1:${port}:22"]
        cloud_init:
          user: alice
          hostname: web1
          ssh_keys: ["{{ lookup('file', '${key}.pub') }}"]
          # one host key type: RSA key generation takes long under TCG
          user_data: |
            #cloud-config
            ssh_genkeytypes: [ed25519]
        labels: {role: web, tier: front}
        state: started
`;

describe.skipIf(!hasAnsible)('Ansible: inventory script and the hangar_vm module (ansible-core, debian-12 guest)', () => {
  let book = '';

  beforeAll(async () => {
    d = await TestDaemon.start();
    key = join(d.dir, 'id_ed25519');
    await new Promise<void>((resolve, reject) => execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key], (e) => (e ? reject(e) : resolve())));
    port = await freePort();
    book = join(d.dir, 'site.yml');
    writeFileSync(book, playbook());
    // A second VM, never started, in a project of its own.
    expect((await d.cli(['project', 'create', 'ops'])).code).toBe(0);
    const r = await d.cli(['vm', 'create', 'db1', '--image', 'tiny', '--project', 'ops', '--label', 'role=db']);
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await d?.cleanup();
  });

  it('a playbook creates and starts the Debian VM with cloud-init', async () => {
    const r = await ansible('ansible-playbook', [book]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(recap(r)).toEqual({ ok: 1, changed: 1, failed: 0 });
    const vm = await d.vm('web1');
    expect(vm).toMatchObject({ state: 'running', cpus: 2, memory: 1024, image: 'debian-12', labels: { role: 'web', tier: 'front' }, forwards: [`tcp:127.0.0.1:${port}:22`] });
    expect(vm.cloudInit).toMatchObject({ user: 'alice', hostname: 'web1', sshKeys: 1 });
  }, 120_000);

  it('ansible-inventory over the inventory script shows the VMs in their groups, with how to reach them', async () => {
    const r = await ansible('ansible-inventory', ['-i', INVENTORY, '--list']);
    expect(r.code, r.stderr).toBe(0);
    const inv = JSON.parse(r.stdout) as Record<string, { hosts?: string[]; children?: string[] }> & { _meta: { hostvars: Record<string, Record<string, unknown>> } };
    expect(inv['hangar']?.hosts?.sort()).toEqual(['db1', 'web1']);
    expect(inv['project_default']?.hosts).toEqual(['web1']);
    expect(inv['project_ops']?.hosts).toEqual(['db1']);
    expect(inv['state_running']?.hosts).toEqual(['web1']);
    expect(inv['state_stopped']?.hosts).toEqual(['db1']);
    expect(inv['label_role_web']?.hosts).toEqual(['web1']);
    expect(inv['label_tier_front']?.hosts).toEqual(['web1']);
    expect(inv['label_role_db']?.hosts).toEqual(['db1']);
    expect(inv._meta.hostvars['web1']).toMatchObject({
      ansible_host: '127.0.0.1', ansible_port: port, ansible_user: 'alice', hangar_state: 'running', hangar_cpus: 2, hangar_memory: 1024, hangar_project: 'default', hangar_labels: { role: 'web', tier: 'front' },
    });
    expect(inv._meta.hostvars['db1']).toMatchObject({ hangar_state: 'stopped', hangar_project: 'ops' });
    expect(inv._meta.hostvars['db1']?.['ansible_host']).toBeUndefined();
    // --host NAME: one VM's variables
    const host = await ansible('ansible-inventory', ['-i', INVENTORY, '--host', 'web1']);
    expect(host.code, host.stderr).toBe(0);
    expect(JSON.parse(host.stdout)).toMatchObject({ ansible_port: port, hangar_name: 'web1' });
  }, 60_000);

  it('ansible -m ping reaches the guest over SSH through the inventory', async () => {
    const t0 = Date.now();
    let last: Run | undefined;
    // Waiting for sshd's banner costs next to nothing; an ansible run costs a CPU second the booting guest needs.
    const out = await waitFor('sshd, then ansible ping to answer pong', async () => {
      if (!(await sshBanner(port))) return undefined;
      last = await ansible('ansible', ['label_role_web', '-i', INVENTORY, '-m', 'ping'], 60_000);
      return last.code === 0 ? last.stdout : undefined;
    }, 560_000, 2000).catch(async (e: unknown) => {
      const serial = await d.api.vms.logs('web1', { tail: 3000 }).then((l) => l.data, () => '');
      throw new Error(`${String(e)}\n${last?.stdout}\n${last?.stderr}\nserial console:\n${serial}`);
    });
    console.log(`ansible: ping answered ${Date.now() - t0} ms after the playbook`);
    expect(out).toMatch(/web1 \| SUCCESS/);
    expect(out).toContain('"ping": "pong"');
    // and it runs as the cloud-init user, on the guest
    const who = await ansible('ansible', ['web1', '-i', INVENTORY, '-m', 'shell', '-a', 'echo "$(hostname) $(id -un)"']);
    expect(who.code, who.stdout).toBe(0);
    expect(who.stdout).toMatch(/web1 \| CHANGED \| rc=0 >>\s*web1 alice/);
  }, 600_000);

  it('the playbook again reports no change', async () => {
    const r = await ansible('ansible-playbook', [book]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(recap(r)).toEqual({ ok: 1, changed: 0, failed: 0 });
  }, 120_000);

  it('check mode reports a change without making it', async () => {
    const before = await d.vm('web1');
    const r = await ansible('ansible-playbook', [book, '--check', '--diff', '-e', 'memory=2G']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(recap(r)).toEqual({ ok: 1, changed: 1, failed: 0 });
    expect(r.stdout).toMatch(/-\s+"memory": 1024,?\n\+\s+"memory": 2048/);
    const stop = await module({ name: 'web1', state: 'stopped' }, ['--check']);
    expect(stop.code, stop.stdout).toBe(0);
    expect(adhocResult(stop)).toMatchObject({ changed: true, actions: ['stop'], vm: { state: 'running' } });
    const after = await d.vm('web1');
    expect({ state: after.state, memory: after.memory, updatedAt: after.updatedAt }).toEqual({ state: 'running', memory: 1024, updatedAt: before.updatedAt });
  }, 120_000);

  it('bad input is refused with the daemon\'s error, nothing created', async () => {
    const r = await module({ name: 'web2', image: 'no-such-image', state: 'present' });
    expect(r.code).not.toBe(0);
    expect(adhocResult(r).msg).toMatch(/^IMAGE_NOT_FOUND: /);
    expect((await d.api.vms.list()).map((v) => v.name).sort()).toEqual(['db1', 'web1']);
  }, 60_000);

  it('state=absent deletes the VM, and a second run changes nothing', async () => {
    const gone = await module({ name: 'web1', state: 'absent', force: true });
    expect(gone.code, gone.stdout).toBe(0);
    expect(adhocResult(gone)).toMatchObject({ changed: true, actions: ['delete'] });
    expect((await d.api.vms.list()).map((v) => v.name)).toEqual(['db1']);
    const again = await module({ name: 'web1', state: 'absent', force: true });
    expect(adhocResult(again)).toMatchObject({ changed: false, actions: [] });
  }, 120_000);
});
