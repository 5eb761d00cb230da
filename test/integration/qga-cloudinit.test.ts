/**
 * cloud-init seed + guest agent end to end on the built-in `debian-12` image under real QEMU
 * (accel=tcg): Hangar's NoCloud renderer and ISO builder make the seed (user alice with a
 * fresh SSH key, hostname web1, a password hash, and custom #cloud-config merged in), and
 * Hangar's GuestAgent client talks to qemu-guest-agent over the virtio-serial channel:
 * ping, OS info, interfaces, exec, fs freeze/thaw, shutdown. SSH through a user-mode port
 * forward proves the seed's user and key.
 *
 * The guest writes to a qcow2 overlay in a temp dir; the cached image is never written.
 * If the image is missing, beforeAll builds it (several minutes).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSeedIso, hashPassword, renderNoCloud, seedArgv } from '../../src/cloudinit/index.js';
import { buildDebianImage, readDebianImage, type DebianImageManifest } from '../../src/images/debian/build.js';
import { defaultCacheDir } from '../../src/images/tiny/build.js';
import { GuestAgent, qgaArgv } from '../../src/qga/index.js';

const AGENT_TIMEOUT_MS = 240_000;
const SSH_TIMEOUT_MS = 180_000;
const SHUTDOWN_TIMEOUT_MS = 60_000;

function execArgv(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === -1 ? err.message : '') });
    });
  });
}

async function mustRun(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await execArgv(cmd, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('cloud-init seed and guest agent on debian-12 (accel=tcg)', () => {
  let image: DebianImageManifest;
  let dir = '';
  let qemu: ChildProcess | undefined;
  let qemuExited = false;
  let qemuStderr = '';
  let exitedAt = 0;
  let startedAt = 0;
  let sshPort = 0;
  let serialLog = '';
  let key = '';
  let ga: GuestAgent;

  const elapsed = (): string => `${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  const serialTail = async (): Promise<string> => (await readFile(serialLog, 'utf8').catch(() => '')).slice(-3000);

  beforeAll(async () => {
    const cacheDir = defaultCacheDir();
    const t0 = Date.now();
    image =
      (await readDebianImage(cacheDir)) ??
      (await buildDebianImage(cacheDir, { onProgress: (m) => console.log(`[debian-12 build] ${m}`) }));
    console.log(`qga-cloudinit: debian-12 image ready in ${Date.now() - t0} ms: ${image.path}`);

    // Short path: unix socket paths are limited to 108 bytes.
    dir = await mkdtemp(path.join(os.tmpdir(), 'hqga-'));
    key = path.join(dir, 'id_ed25519');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-qga-test', '-f', key]);
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim();

    const t1 = Date.now();
    const seed = renderNoCloud({
      instanceId: `hangar-qga-${process.pid}-${Date.now()}`,
      hostname: 'web1',
      user: 'alice',
      sshKeys: [pub],
      passwordHash: await hashPassword('correct horse battery staple'),
      userData: '#cloud-config\nwrite_files:\n  - path: /etc/hangar-seed-test\n    content: "merged custom user-data\\n"\n',
    });
    const seedIso = path.join(dir, 'seed.iso');
    await buildSeedIso(seed, 'cidata', seedIso);
    console.log(`qga-cloudinit: seed rendered and ISO built in ${Date.now() - t1} ms`);

    const overlay = path.join(dir, 'overlay.qcow2');
    await mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image.path, '-F', 'qcow2', overlay]);

    sshPort = await freePort();
    serialLog = path.join(dir, 'serial.log');
    const qgaSock = path.join(dir, 'qga.sock');
    // Direct kernel boot when the image offers it (skips SeaBIOS and GRUB); else boot the disk.
    const direct = image.directBoot;
    const boot = direct ? ['-kernel', direct.kernel, '-initrd', direct.initrd, '-append', direct.cmdline] : [];
    const argv = [
      '-accel', 'tcg', '-machine', 'q35', '-m', '1024', '-smp', '2',
      '-nodefaults', '-no-user-config', '-display', 'none',
      ...boot,
      '-blockdev', JSON.stringify({ driver: 'file', filename: overlay, 'node-name': 'disk0f' }),
      '-blockdev', JSON.stringify({ driver: 'qcow2', file: 'disk0f', 'node-name': 'disk0' }),
      '-device', JSON.stringify({ driver: 'virtio-blk-pci', drive: 'disk0', ...(direct ? {} : { bootindex: 0 }) }),
      ...seedArgv({ isoPath: seedIso }),
      '-netdev', JSON.stringify({ type: 'user', id: 'n0', hostfwd: [{ str: `tcp:127.0.0.1:${sshPort}-:22` }] }),
      '-device', JSON.stringify({ driver: 'virtio-net-pci', netdev: 'n0', mac: '52:54:00:12:34:56' }),
      '-chardev', `file,id=serial0,path=${serialLog}`,
      '-serial', 'chardev:serial0',
      ...qgaArgv({ socketPath: qgaSock }),
    ];
    startedAt = Date.now();
    qemu = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr?.setEncoding('utf8').on('data', (d: string) => (qemuStderr += d));
    qemu.once('exit', () => {
      qemuExited = true;
      exitedAt = Date.now();
    });
    ga = new GuestAgent(qgaSock, { timeoutMs: 30_000 });
    await sleep(1_000);
    if (qemuExited) throw new Error(`QEMU exited at once: ${qemuStderr}`);
    console.log(`qga-cloudinit: QEMU pid ${qemu.pid}, ssh 127.0.0.1:${sshPort}, dir ${dir}`);
  }, 60 * 60_000);

  afterAll(async () => {
    await ga?.close();
    if (qemu?.pid !== undefined && !qemuExited) {
      const exited = new Promise<void>((r) => qemu?.once('exit', () => r()));
      process.kill(qemu.pid, 'SIGTERM');
      if ((await Promise.race([exited.then(() => 'exited'), sleep(5_000).then(() => 'timeout')])) === 'timeout' && !qemuExited) {
        process.kill(qemu.pid, 'SIGKILL');
        await exited;
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers guest-ping once the guest has booted', async () => {
    const deadline = Date.now() + AGENT_TIMEOUT_MS;
    let attempts = 0;
    let ok = false;
    while (!ok && Date.now() < deadline && !qemuExited) {
      attempts++;
      ok = await ga.ping(5_000);
      if (!ok) await sleep(1_000);
    }
    expect(ok, `no agent after ${attempts} attempts; qemu: ${qemuStderr}\nserial:\n${await serialTail()}`).toBe(true);
    console.log(`qga-cloudinit: agent answered ${elapsed()} after QEMU start (${attempts} pings)`);
  }, AGENT_TIMEOUT_MS + 30_000);

  it('reports the OS: Debian 12, with the image kernel', async () => {
    const info = await ga.osInfo();
    console.log(`qga-cloudinit: osInfo ${JSON.stringify(info)}`);
    expect(info.id).toBe('debian');
    expect(info.versionId).toBe('12');
    expect(info.prettyName).toMatch(/Debian GNU\/Linux 12/);
    expect(info.kernelRelease).toBe(image.kernelVersion);
  });

  it('reports the guest address 10.0.2.15 (user-mode network DHCP)', async () => {
    const deadline = Date.now() + 90_000;
    let ifaces = await ga.interfaces();
    while (!ifaces.some((i) => i.addresses.some((a) => a.ip === '10.0.2.15')) && Date.now() < deadline) {
      await sleep(2_000);
      ifaces = await ga.interfaces();
    }
    const nic = ifaces.find((i) => i.addresses.some((a) => a.ip === '10.0.2.15'));
    expect(nic, JSON.stringify(ifaces)).toBeDefined();
    expect(nic?.mac).toBe('52:54:00:12:34:56');
    expect(nic?.addresses).toContainEqual({ ip: '10.0.2.15', prefix: 24, family: 'ipv4' });
    expect(ifaces.find((i) => i.name === 'lo')?.addresses).toContainEqual({ ip: '127.0.0.1', prefix: 8, family: 'ipv4' });
  }, 120_000);

  it('runs commands through the agent: output, exit codes, stdin', async () => {
    const t0 = Date.now();
    const uname = await ga.exec(['uname', '-r']);
    console.log(`qga-cloudinit: exec uname -r took ${Date.now() - t0} ms`);
    expect(uname.exitCode).toBe(0);
    expect(uname.stdout.trim()).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(uname.stdout.trim()).toBe(image.kernelVersion);

    const fail = await ga.exec(['sh', '-c', 'echo to-stderr >&2; exit 7']);
    expect(fail).toMatchObject({ exitCode: 7, stdout: '', stderr: 'to-stderr\n' });

    const cat = await ga.exec(['cat'], { input: 'hello through stdin\n' });
    expect(cat).toMatchObject({ exitCode: 0, stdout: 'hello through stdin\n' });
  });

  it('applied the seed: hostname web1, user alice, merged custom user-data', async () => {
    // cloud-init may still be running when the agent first answers.
    const deadline = Date.now() + 120_000;
    let status = await ga.exec(['cloud-init', 'status', '--wait'], { timeoutMs: 120_000 });
    while (status.exitCode !== 0 && !/status: done/.test(status.stdout) && Date.now() < deadline) {
      await sleep(2_000);
      status = await ga.exec(['cloud-init', 'status']);
    }
    console.log(`qga-cloudinit: cloud-init ${status.stdout.trim().split('\n').pop() ?? ''} at ${elapsed()}`);
    const host = await ga.exec(['hostname']);
    expect(host).toMatchObject({ exitCode: 0, stdout: 'web1\n' });
    const id = await ga.exec(['id', '-un', 'alice']);
    expect(id.stdout.trim()).toBe('alice');
    const shadow = await ga.exec(['getent', 'shadow', 'alice']);
    expect(shadow.stdout).toMatch(/^alice:\$6\$/);
    const custom = await ga.exec(['cat', '/etc/hangar-seed-test']);
    expect(custom).toMatchObject({ exitCode: 0, stdout: 'merged custom user-data\n' });
  }, 180_000);

  it('lets alice in over SSH with the seeded key', async () => {
    const deadline = Date.now() + SSH_TIMEOUT_MS;
    let last = { code: -1, stdout: '', stderr: '' };
    let attempts = 0;
    while (Date.now() < deadline && !qemuExited) {
      attempts++;
      last = await execArgv(
        'ssh',
        [
          '-i', key,
          '-o', 'StrictHostKeyChecking=no',
          '-o', 'UserKnownHostsFile=/dev/null',
          '-o', 'BatchMode=yes',
          '-o', 'ConnectTimeout=10',
          '-o', 'LogLevel=ERROR',
          '-p', String(sshPort),
          'alice@127.0.0.1',
          'hostname',
        ],
        30_000,
      );
      if (last.code === 0) break;
      await sleep(2_000);
    }
    expect(last.code, `ssh failed after ${attempts} attempts: ${last.stderr}\nserial:\n${await serialTail()}`).toBe(0);
    expect(last.stdout.trim()).toBe('web1');
    console.log(`qga-cloudinit: ssh as alice worked at ${elapsed()} (${attempts} attempts)`);
  }, SSH_TIMEOUT_MS + 40_000);

  it('freezes and thaws the guest filesystems', async () => {
    expect(await ga.fsFreezeStatus()).toBe('thawed');
    const t0 = Date.now();
    let frozen = 0;
    try {
      frozen = await ga.fsFreeze();
      expect(await ga.fsFreezeStatus()).toBe('frozen');
    } finally {
      const thawed = await ga.fsThaw();
      console.log(`qga-cloudinit: froze ${frozen}, thawed ${thawed} filesystems in ${Date.now() - t0} ms`);
      expect(thawed).toBe(frozen);
    }
    expect(frozen).toBeGreaterThanOrEqual(1);
    expect(await ga.fsFreezeStatus()).toBe('thawed');
    // The guest still writes after the thaw.
    expect((await ga.exec(['sh', '-c', 'echo ok > /root/after-thaw && cat /root/after-thaw'])).stdout).toBe('ok\n');
  });

  it('shuts the guest down through the agent; QEMU exits', async () => {
    const t0 = Date.now();
    await ga.shutdown();
    const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
    while (!qemuExited && Date.now() < deadline) await sleep(250);
    expect(qemuExited, `QEMU still running ${SHUTDOWN_TIMEOUT_MS} ms after guest-shutdown; serial:\n${await serialTail()}`).toBe(true);
    console.log(`qga-cloudinit: QEMU exited ${exitedAt - t0} ms after guest-shutdown`);
    expect(await ga.ping(1_000)).toBe(false);
  }, SHUTDOWN_TIMEOUT_MS + 20_000);
});
