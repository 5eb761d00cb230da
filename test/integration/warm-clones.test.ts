/**
 * Warm templates and clones (issue 20) on the real debian-12 guest under TCG: one Debian
 * guest with file-backed memory is booted (cloud-init done, agent answering), a template is
 * made of it while it goes on running, and three clones are made at once. Each clone answers
 * `vm exec`, and its MAC, hostname, machine-id, SSH host key, vmgenid and /dev/urandom
 * differ from its siblings' and the template's; right after it is ready, under 15 % of its
 * guest-RAM mapping is private (/proc/PID/smaps). Deleting the template is refused while the
 * clones exist; a clone stops and starts cold like any VM.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloneFromTemplateReply, Template, Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';

let d: TestDaemon;
let bootMs = 0;
let memorySum = '';
const memorySha = (): string => createHash('sha256').update(readFileSync(join(d.dir, 'templates', 'deb', 'memory.ram'))).digest('hex');
const CLONES = ['wc-1', 'wc-2', 'wc-3'];

/** What tells guests apart, read in the guest through the agent. */
const IDENTITY_SCRIPT = [
  'for i in /sys/class/net/*; do n=${i##*/}; [ "$n" = lo ] || { echo "mac=$(cat $i/address)"; break; }; done',
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
function privateOfMapping(pid: number, file: string): { sizeKb: number; privateKb: number } {
  const lines = readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n');
  let inMap = false;
  let sizeKb = 0;
  let privateKb = 0;
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
  }
  return { sizeKb, privateKb };
}

beforeAll(async () => {
  d = await TestDaemon.start();
  const t0 = Date.now();
  const r = await d.cli(['vm', 'create', 'tmpl-src', '--image', 'debian-12', '--cpus', '1', '--memory', '512M', '--memory-backing', 'file', '--hostname', 'tmpl-src', '--start'], undefined, 120_000);
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

  it('three clones at once: each ready with its own identity, sharing the template\'s memory', async () => {
    const r = await d.cli(['vm', 'create', 'wc', '--from-template', 'deb', '--count', '3', '--output', 'json'], undefined, 240_000);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as CloneFromTemplateReply;
    for (const t of reply.timings) console.log(`warm-clones: ${t.vm} request→running ${t.runningMs} ms, request→ready ${t.readyMs} ms (${t.steps.join(',')})`);
    expect(reply.timings.map((t) => t.vm)).toEqual(CLONES);
    for (const t of reply.timings) expect(t.steps).toEqual(expect.arrayContaining(['clock', 'rng-reseed', 'machine-id', 'hostname', 'ssh-host-keys', 'random-seed']));

    // Right after ready: most of the guest's RAM is still the template's pages.
    const memFile = `/templates/deb/memory.ram`;
    for (const name of CLONES) {
      const v = await d.vm(name);
      const m = privateOfMapping(v.pid!, memFile);
      console.log(`warm-clones: ${name} private ${m.privateKb} kB of a ${m.sizeKb} kB guest-RAM mapping (${((100 * m.privateKb) / m.sizeKb).toFixed(1)} %)`);
      expect(m.sizeKb).toBe(512 * 1024);
      expect(m.privateKb / m.sizeKb).toBeLessThan(0.15);
    }

    const vms: Vm[] = await Promise.all(['tmpl-src', ...CLONES].map((n) => d.vm(n)));
    const ids = await Promise.all(vms.map((v) => identityOf(v.name)));
    for (const key of ['mac', 'hostname', 'machineid', 'hostkey', 'random']) {
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
    const shown = JSON.parse((await d.cli(['template', 'show', 'deb', '--output', 'json'])).stdout) as Template;
    expect(shown.clones).toEqual(CLONES);
    // The clones wrote their memory privately: the template's file is as it was, and root's again.
    expect(memorySha()).toBe(memorySum);
    expect(statSync(join(d.dir, 'templates', 'deb', 'memory.ram')).uid).toBe(0);
  }, 300_000);

  it('deleting the template is refused while clones are linked to it', async () => {
    const r = await d.cli(['template', 'delete', 'deb']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('TEMPLATE_IN_USE');
    await expect(d.api.call('DELETE', '/v1/templates/deb')).rejects.toMatchObject({ code: 'TEMPLATE_IN_USE' });
  }, 30_000);

  it('a clone is an ordinary VM afterwards: it stops and starts cold; without clones the template goes', async () => {
    for (const name of CLONES.slice(1)) expect((await d.cli(['vm', 'delete', name, '--force'])).code).toBe(0);
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
