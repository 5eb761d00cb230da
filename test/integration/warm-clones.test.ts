/**
 * Warm templates and clones (issue 20) on the real debian-12 guest under TCG: one Debian
 * guest with file-backed memory on a managed network is booted (cloud-init done, agent
 * answering), a template is made of it while it goes on running, and ten clones are made at
 * once. Each clone answers `vm exec` and SSH, and its MAC, IP, hostname, machine-id, SSH host
 * key, vmgenid and /dev/urandom differ from its siblings' and the template's; right after it
 * is ready, under 15 % of its guest-RAM mapping is private (/proc/PID/smaps). A clone that
 * writes its memory gets private pages, the template's file unchanged. Deleting the template
 * is refused while the clones exist; a clone stops and starts cold like any VM; a daemon
 * killed while it makes ten clones leaves complete running clones only, and no files.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloneFromTemplateReply, Template, Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';

const run = promisify(execFile);
let d: TestDaemon;
let bootMs = 0;
let memorySum = '';
let key = '';
const third = 100 + Math.floor(Math.random() * 100);
const SUBNET = `10.217.${third}.0/24`;
const memorySha = (): string => createHash('sha256').update(readFileSync(join(d.dir, 'templates', 'deb', 'memory.ram'))).digest('hex');
const CLONES = Array.from({ length: 10 }, (_, i) => `wc-${i + 1}`);

/** What tells guests apart, read in the guest through the agent. */
const IDENTITY_SCRIPT = [
  'for i in /sys/class/net/*; do n=${i##*/}; [ "$n" = lo ] || { echo "mac=$(cat $i/address)"; break; }; done',
  'echo "ip=$(ip -4 -o addr show scope global | awk \'{print $4}\' | cut -d/ -f1 | head -n1)"',
  'echo "hostname=$(hostname)"',
  'echo "machineid=$(cat /etc/machine-id)"',
  'echo "hostkey=$(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d" " -f2)"',
  'echo "random=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n")"',
].join('; ');

async function identityOf(vm: string): Promise<Record<string, string>> {
  const r = await d.cli(['vm', 'exec', vm, '--', 'sh', '-c', IDENTITY_SCRIPT], undefined, 90_000);
  expect(r.code, `${vm}: ${r.stderr}`).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Of the QEMU process's mapping of `file`: its size and the bytes private to the process (kB). */
function privateOfMapping(pid: number, file: string): { sizeKb: number; privateKb: number; sharedDirtyKb: number } {
  const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  let inMap = false;
  let sizeKb = 0;
  let privateKb = 0;
  let sharedDirtyKb = 0;
  for (const line of lines) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inMap = line.trimEnd().endsWith(file);
      continue;
    }
    if (!inMap) continue;
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!m) continue;
    if (m[1] === 'Size') sizeKb += Number(m[2]);
    if (m[1] === 'Private_Clean' || m[1] === 'Private_Dirty') privateKb += Number(m[2]);
    if (m[1] === 'Shared_Dirty') sharedDirtyKb += Number(m[2]);
  }
  return { sizeKb, privateKb, sharedDirtyKb };
}

/** The guest's global IPv4 address once DHCP gave it one other than `not`. */
async function ipOf(vm: string, not?: string): Promise<string> {
  return waitFor(`${vm} to have an address`, async () => {
    const r = await d.cli(['vm', 'exec', vm, '--', 'sh', '-c', 'ip -4 -o addr show scope global'], undefined, 30_000);
    const ip = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(r.stdout)?.[1];
    return ip !== undefined && ip !== not ? ip : undefined;
  }, 90_000, 1000);
}

function ssh(ip: string, ...command: string[]) {
  return run('ssh', ['-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `alice@${ip}`, ...command], { timeout: 30_000 });
}

beforeAll(async () => {
  // Ten clones beside their source and the crash test's clones: room for 16 vCPUs on 2 cores.
  d = await TestDaemon.start({ netPrefix: 'hgw', args: ['--cpu-overcommit', '8'] });
  key = join(d.dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const net = await d.cli(['network', 'create', 'wn', '--subnet', SUBNET]);
  expect(net.code, net.stderr).toBe(0);
  const t0 = Date.now();
  const r = await d.cli(['vm', 'create', 'tmpl-src', '--image', 'debian-12', '--cpus', '1', '--memory', '512M', '--memory-backing', 'file', '--hostname', 'tmpl-src',
    '--network', 'wn', '--ssh-key', `${key}.pub`, '--user', 'alice', '--start'], undefined, 120_000);
  expect(r.code, r.stderr).toBe(0);
  await waitFor('the guest agent', async () => ((await d.cli(['vm', 'exec', 'tmpl-src', '--', 'true'], undefined, 20_000)).code === 0 ? true : undefined), 300_000, 2000);
  const ci = await d.cli(['vm', 'exec', 'tmpl-src', '--', 'cloud-init', 'status', '--wait'], undefined, 200_000);
  expect(ci.stdout).toContain('done');
  bootMs = Date.now() - t0;
  console.log(`warm-clones: debian-12 source booted (agent + cloud-init done) in ${bootMs} ms`);
}, 520_000);

afterAll(async () => {
  await d?.cleanup();
});

describe('warm templates and clones on debian-12 (accel=tcg)', () => {
  it('file-backed memory is refused with hugepages, and a VM without it cannot become a template', async () => {
    await expect(d.api.call('POST', '/v1/vms', { name: 'bad', image: 'tiny', memoryBacking: 'file', hugepages: true })).rejects.toMatchObject({ code: 'MEMORY_BACKING_CONFLICT' });
    expect((await d.api.vms.list()).map((v) => v.name)).not.toContain('bad');
    const plain = await d.cli(['vm', 'create', 'plain', '--image', 'tiny', '--memory', '128M']);
    expect(plain.code, plain.stderr).toBe(0);
    await expect(d.api.call('POST', '/v1/templates', { name: 'nope', fromVm: 'plain' })).rejects.toMatchObject({ code: 'TEMPLATE_SOURCE_UNFIT' });
    await d.cli(['vm', 'delete', 'plain']);
  }, 60_000);

  it('starts at the same time cannot together pass the host\'s capacity (each counts the others from its check on)', async () => {
    const host = await d.api.call<{ capacity: { cpus: number } }>('GET', '/v1/host');
    const used = 1; // tmpl-src
    const cpus = Math.floor((host.capacity.cpus - used) / 2);
    expect(3 * cpus + used).toBeGreaterThan(host.capacity.cpus);
    for (const n of ['cap-1', 'cap-2', 'cap-3']) expect((await d.cli(['vm', 'create', n, '--image', 'tiny', '--memory', '64M', '--cpus', String(cpus)])).code).toBe(0);
    const starts = await Promise.all(['cap-1', 'cap-2', 'cap-3'].map((n) => d.cli(['vm', 'start', n])));
    expect(starts.filter((r) => r.code === 0)).toHaveLength(2);
    expect(starts.find((r) => r.code !== 0)?.stderr).toContain('HOST_CAPACITY');
    for (const n of ['cap-1', 'cap-2', 'cap-3']) expect((await d.cli(['vm', 'delete', n, '--force'])).code).toBe(0);
  }, 60_000);

  it('a template is made of the running guest, which goes on', async () => {
    const r = await d.cli(['template', 'create', 'deb', '--from-vm', 'tmpl-src', '--output', 'json'], undefined, 180_000);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as Template;
    console.log(`warm-clones: template made, source paused ${t.pauseMs} ms, state ${t.stateBytes} bytes, memory file ${t.memoryBytes} bytes`);
    expect(t.stateBytes).toBeLessThan(16 * 2 ** 20);
    expect((await d.vm('tmpl-src')).state).toBe('running');
    expect((await d.cli(['vm', 'exec', 'tmpl-src', '--', 'true'])).code).toBe(0);
    memorySum = memorySha();
    const list = await d.cli(['template', 'list']);
    expect(list.stdout).toContain('deb');
  }, 200_000);

  it('ten clones at once: each ready with its own identity, reachable over SSH, sharing the template\'s memory', async () => {
    const r = await d.cli(['vm', 'create', 'wc', '--from-template', 'deb', '--count', String(CLONES.length), '--output', 'json'], undefined, 300_000);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as CloneFromTemplateReply;
    for (const t of reply.timings) console.log(`warm-clones: ${t.vm} created ${t.createdMs} ms, QEMU up ${t.qemuMs} ms, running ${t.runningMs} ms, identity ${t.identityMs} ms, ready ${t.readyMs} ms (${t.steps.join(',')})`);
    expect(reply.timings.map((t) => t.vm)).toEqual(CLONES);
    for (const t of reply.timings) expect(t.steps).toEqual(expect.arrayContaining(['clock', 'rng-reseed', 'machine-id', 'hostname', 'ssh-host-keys', 'random-seed', 'dhcp-renew']));

    // Right after ready: most of the guest's RAM is still the template's pages.
    const memFile = `/templates/deb/memory.ram`;
    for (const name of CLONES) {
      const v = await d.vm(name);
      const m = privateOfMapping(v.pid!, memFile);
      console.log(`warm-clones: ${name} private ${m.privateKb} kB of a ${m.sizeKb} kB guest-RAM mapping (${((100 * m.privateKb) / m.sizeKb).toFixed(1)} %)`);
      expect(m.sizeKb).toBe(512 * 1024);
      expect(m.privateKb / m.sizeKb).toBeLessThan(0.15);
    }

    const srcIp = await ipOf('tmpl-src');
    const vms: Vm[] = await Promise.all(['tmpl-src', ...CLONES].map((n) => d.vm(n)));
    // Each clone asked for a lease of its own (networkd restarted with its machine-id).
    for (const n of CLONES) await ipOf(n, srcIp);
    const ids = await Promise.all(vms.map((v) => identityOf(v.name)));
    for (const key of ['mac', 'ip', 'hostname', 'machineid', 'hostkey', 'random']) {
      const values = ids.map((i) => i[key]);
      expect(values.every((x) => x !== undefined && x.length > 0), `${key}: ${values.join(' ')}`).toBe(true);
      expect(new Set(values).size, `${key} differs between template source and clones: ${values.join(' ')}`).toBe(vms.length);
    }
    // The guest's MAC is the clone's own, the hostname its name, the vmgenid its own.
    vms.forEach((v, i) => {
      expect(ids[i]!.mac).toBe(v.nics![0]!.mac.toLowerCase());
      expect(ids[i]!.hostname).toBe(v.name);
    });
    expect(new Set(vms.map((v) => v.vmgenid)).size).toBe(vms.length);
    for (const v of vms.slice(1)) expect(v.template).toBe('deb');
    // SSH (the template's user and key): the clone answers with its name and its own host key.
    for (const i of [1, CLONES.length]) {
      const out = await waitFor(`SSH to ${CLONES[i - 1]}`, async () => (await ssh(ids[i]!.ip!, 'hostname').catch(() => undefined))?.stdout, 60_000, 2000);
      expect(out.trim()).toBe(CLONES[i - 1]);
      // The host key SSH is served is the one the clone made (as the agent read it).
      const scan = await run('ssh-keyscan', ['-t', 'ed25519', ids[i]!.ip!], { timeout: 20_000 });
      const fp = await new Promise<string>((resolve, reject) => {
        const p = execFile('ssh-keygen', ['-lf', '-'], (err, out) => (err ? reject(err) : resolve(out)));
        p.stdin!.end(scan.stdout);
      });
      expect(fp.split(' ')[1]).toBe(ids[i]!.hostkey);
    }
    const shown = JSON.parse((await d.cli(['template', 'show', 'deb', '--output', 'json'])).stdout) as Template;
    expect(shown.clones).toEqual([...CLONES].sort());
    // The clones wrote their memory privately: the template's file is as it was, and root's again.
    expect(memorySha()).toBe(memorySum);
    expect(statSync(join(d.dir, 'templates', 'deb', 'memory.ram')).uid).toBe(0);
  }, 420_000);

  it('a clone writing its memory gets private pages; the template\'s file is unchanged', async () => {
    const v = await d.vm('wc-1');
    const before = privateOfMapping(v.pid!, '/templates/deb/memory.ram');
    // Page cache dropped, then all but 48 MiB of what the guest has available written, and held.
    const fill = [
      'sync; echo 3 > /proc/sys/vm/drop_caches',
      'n=$(awk \'/MemAvailable/ {print ($2 - 49152) * 1024}\' /proc/meminfo)',
      'echo "$n" > /run/fill-bytes',
      'setsid nohup python3 -c "import sys,time\nn=int(sys.argv[1]); b=bytearray(n)\nfor i in range(0, n, 4096): b[i]=1\nopen(\'/run/fill-done\',\'w\').close()\ntime.sleep(600)" "$n" </dev/null >/dev/null 2>&1 &',
    ].join('\n');
    const r = await d.cli(['vm', 'exec', 'wc-1', '--', 'sh', '-c', fill], undefined, 60_000);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the fill to finish', async () => (await d.cli(['vm', 'exec', 'wc-1', '--', 'test', '-e', '/run/fill-done'], undefined, 30_000)).code === 0, 240_000, 2000);
    const filledBytes = Number((await d.cli(['vm', 'exec', 'wc-1', '--', 'cat', '/run/fill-bytes'])).stdout.trim());
    const after = privateOfMapping(v.pid!, '/templates/deb/memory.ram');
    console.log(`warm-clones: wc-1 wrote ${Math.round(filledBytes / 2 ** 20)} MiB: private ${before.privateKb} kB → ${after.privateKb} kB of ${after.sizeKb} kB (${((100 * after.privateKb) / after.sizeKb).toFixed(1)} %), shared dirty ${after.sharedDirtyKb} kB`);
    expect(after.privateKb - before.privateKb).toBeGreaterThan((0.95 * filledBytes) / 1024 - 16 * 1024);
    expect(after.privateKb / after.sizeKb).toBeGreaterThan(0.6);
    // Nothing the clone wrote went to the template's file: no dirty shared pages, same checksum.
    expect(after.sharedDirtyKb).toBe(0);
    expect(memorySha()).toBe(memorySum);
    await d.cli(['vm', 'exec', 'wc-1', '--', 'pkill', '-f', 'fill-done']);
  }, 300_000);

  it('deleting the template is refused while clones are linked to it', async () => {
    const r = await d.cli(['template', 'delete', 'deb']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('TEMPLATE_IN_USE');
    await expect(d.api.call('DELETE', '/v1/templates/deb')).rejects.toMatchObject({ code: 'TEMPLATE_IN_USE' });
    for (const name of CLONES.slice(1)) expect((await d.cli(['vm', 'delete', name, '--force'])).code).toBe(0);
  }, 60_000);

  it('user data for a clone is applied before it is ready (cloud-config modules run again for it); what a clone cannot apply is refused', async () => {
    const file = join(d.dir, 'clone-user-data.yaml');
    writeFileSync(file, '#cloud-config\nwrite_files:\n  - path: /etc/hangar-clone-note\n    content: from user data\nruncmd:\n  - [sh, -c, "hostname > /run/ud-ran"]\n');
    const r = await d.cli(['vm', 'create', 'ud', '--from-template', 'deb', '--user-data', file, '--output', 'json'], undefined, 240_000);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as CloneFromTemplateReply).timings[0]!.steps).toContain('user-data');
    expect((await d.cli(['vm', 'exec', 'ud', '--', 'cat', '/etc/hangar-clone-note'])).stdout.trim()).toBe('from user data');
    expect((await d.cli(['vm', 'exec', 'ud', '--', 'cat', '/run/ud-ran'])).stdout.trim()).toBe('ud');
    expect((await d.cli(['vm', 'delete', 'ud', '--force'])).code).toBe(0);
    writeFileSync(file, '#cloud-config\ngrowpart: {mode: auto}\n');
    const bad = await d.cli(['vm', 'create', 'ud2', '--from-template', 'deb', '--user-data', file]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('INVALID_SPEC');
    expect((await d.api.vms.list()).map((v) => v.name)).not.toContain('ud2');
  }, 300_000);

  it('a daemon killed while it makes ten clones leaves, after restart, complete running clones or none, and no files', async () => {
    const making = d.cli(['vm', 'create', 'cr', '--from-template', 'deb', '--count', '10'], undefined, 300_000);
    // Killed once the first clone is ready and others are still on their way.
    await waitFor('a first clone to be ready', async () => {
      const events = await d.api.call<Array<{ type: string; vm?: string }>>('GET', '/v1/events?limit=1000').catch(() => []);
      return events.some((e) => e.type === 'vm.warm-ready' && e.vm?.startsWith('cr-')) ? true : undefined;
    }, 240_000, 100);
    await d.kill('SIGKILL');
    const cut = await making;
    expect(cut.code).not.toBe(0);
    await d.launch();
    const left = await waitFor('recovery', async () => {
      if (readdirSync(join(d.dir, 'warm-journal')).length > 0) return undefined;
      return (await d.api.vms.list()).filter((v) => v.name.startsWith('cr-'));
    }, 120_000, 500);
    console.log(`warm-clones: killed while making 10 clones: kept ${left.map((v) => v.name).join(', ') || 'none'}`);
    expect(left.length).toBeGreaterThan(0);
    expect(left.length).toBeLessThan(10);
    for (const v of left) {
      expect(v.state).toBe('running');
      const h = await d.cli(['vm', 'exec', v.name, '--', 'hostname'], undefined, 30_000);
      expect(h.stdout.trim()).toBe(v.name);
    }
    // No leftover: overlay files only of the kept clones, no run dirs of others, the template file root's.
    const pool = join(d.dir, 'pools', 'default');
    const crFiles = readdirSync(pool).filter((f) => f.startsWith('cr-'));
    expect(crFiles.map((f) => f.split('-').slice(0, 2).join('-')).sort()).toEqual(left.map((v) => v.name).sort());
    expect(readdirSync(join(d.dir, 'templates')).sort()).toEqual(['deb']);
    expect(statSync(join(d.dir, 'templates', 'deb', 'memory.ram')).uid).toBe(0);
    expect(memorySha()).toBe(memorySum);
    for (const v of left) expect((await d.cli(['vm', 'delete', v.name, '--force'])).code).toBe(0);
    expect(existsSync(join(d.dir, 'warm-journal'))).toBe(true);
  }, 420_000);

  it('a clone is an ordinary VM afterwards: it stops and starts cold; without clones the template goes', async () => {
    expect((await d.cli(['vm', 'stop', 'wc-1', '--force'])).code).toBe(0);
    expect((await d.cli(['vm', 'start', 'wc-1'])).code).toBe(0);
    const ok = await waitFor('the cold-started clone\'s agent', async () => {
      const r = await d.cli(['vm', 'exec', 'wc-1', '--', 'hostname'], undefined, 20_000);
      return r.code === 0 ? r.stdout.trim() : undefined;
    }, 240_000, 2000);
    expect(ok).toBe('wc-1');
    expect((await d.cli(['vm', 'delete', 'wc-1', '--force'])).code).toBe(0);
    const del = await d.cli(['template', 'delete', 'deb']);
    expect(del.code, del.stderr).toBe(0);
    expect((await d.cli(['template', 'list', '--output', 'json'])).stdout.trim()).toBe('[]');
  }, 300_000);
});
