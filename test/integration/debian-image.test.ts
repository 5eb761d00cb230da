/**
 * The built-in `debian-12` image under real QEMU (accel=tcg), booted from its disk by
 * SeaBIOS + GRUB, with a NoCloud seed: cloud-init must set the hostname and create a user
 * whose key then logs in over SSH through a user-mode port forward; the guest agent must
 * answer. The cached image stays pristine (the guest writes to a qcow2 overlay in a temp dir).
 *
 * The image is normally built before the tests (scripts/setup runs its build-main); if it is
 * missing, beforeAll builds it, which takes several minutes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDebianImage, readDebianImage, type DebianImageManifest } from '../../src/images/debian/build.js';
import { defaultCacheDir } from '../../src/images/tiny/build.js';

const BOOT_TIMEOUT_MS = 180_000;
const SSH_TIMEOUT_MS = 180_000;

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

/** Poll a (growing) file until `re` matches its text; returns the match. */
async function waitForFile(file: string, re: RegExp, timeoutMs: number, alive: () => boolean): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  for (;;) {
    text = await readFile(file, 'utf8').catch(() => '');
    const m = re.exec(text);
    if (m) return m;
    if (!alive()) throw new Error(`QEMU exited while waiting for ${re}; serial so far:\n${text.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re}; serial so far:\n${text.slice(-3000)}`);
    await sleep(250);
  }
}

/** One QMP-style exchange with the guest agent: guest-sync-delimited, then a command. */
async function guestAgent(sock: string, command: string, timeoutMs: number): Promise<unknown> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.createConnection(sock);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
  try {
    let buf = '';
    s.setEncoding('utf8').on('data', (d: string) => (buf += d));
    const id = Math.floor(Math.random() * 1e9);
    // The reply to guest-sync-delimited is preceded by a 0xFF byte (U+FFFD once decoded).
    s.write(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`);
    const deadline = Date.now() + timeoutMs;
    const waitLine = async (pred: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        for (const line of buf.split(/[\n\ufffd]/)) {
          if (!line.trim().startsWith('{')) continue;
          try {
            const o = JSON.parse(line) as Record<string, unknown>;
            if (pred(o)) return o;
          } catch {
            // partial line
          }
        }
        if (Date.now() > deadline) throw new Error(`guest agent did not answer (got ${JSON.stringify(buf.slice(-500))})`);
        await sleep(100);
      }
    };
    await waitLine((o) => o['return'] === id);
    buf = '';
    s.write(`${JSON.stringify({ execute: command })}\n`);
    return await waitLine((o) => 'return' in o || 'error' in o);
  } finally {
    s.destroy();
  }
}

describe('debian-12 image (disk boot, cloud-init, SSH, guest agent)', () => {
  let image: DebianImageManifest;
  let dir: string;
  let qemu: ChildProcess | undefined;
  let qemuExited = false;
  let qemuStderr = '';
  let startedAt = 0;
  let sshPort = 0;
  let serialLog = '';
  let qgaSock = '';
  let key = '';

  beforeAll(async () => {
    const cacheDir = defaultCacheDir();
    const t0 = Date.now();
    image =
      (await readDebianImage(cacheDir)) ??
      (await buildDebianImage(cacheDir, { onProgress: (m) => console.log(`[debian-12 build] ${m}`) }));
    console.log(`debian-12 image ready in ${Date.now() - t0} ms: ${image.path} (${(image.fileSizeBytes / 2 ** 20).toFixed(0)} MiB)`);

    dir = await mkdtemp(path.join(os.tmpdir(), 'hangar-deb-'));
    key = path.join(dir, 'id_ed25519');
    await mustRun('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test', '-f', key]);
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim();

    const seedDir = path.join(dir, 'seed');
    await mkdir(seedDir);
    await writeFile(path.join(seedDir, 'meta-data'), `instance-id: hangar-test-${process.pid}-${Date.now()}\nlocal-hostname: web1\n`);
    await writeFile(
      path.join(seedDir, 'user-data'),
      `#cloud-config\nusers:\n  - name: alice\n    shell: /bin/bash\n    sudo: "ALL=(ALL) NOPASSWD:ALL"\n    ssh_authorized_keys:\n      - ${pub}\n`,
    );
    const seedIso = path.join(dir, 'seed.iso');
    await mustRun('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'cidata', '-J', '-R', '-o', seedIso, seedDir]);

    const overlay = path.join(dir, 'overlay.qcow2');
    await mustRun('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image.path, '-F', 'qcow2', overlay]);

    sshPort = await freePort();
    serialLog = path.join(dir, 'serial.log');
    qgaSock = path.join(dir, 'qga.sock');
    const argv = [
      '-accel', 'tcg', '-machine', 'q35', '-m', '1024', '-smp', '2',
      '-nodefaults', '-no-user-config', '-display', 'none',
      '-blockdev', JSON.stringify({ driver: 'qcow2', 'node-name': 'disk0', file: { driver: 'file', filename: overlay } }),
      '-device', JSON.stringify({ driver: 'virtio-blk-pci', drive: 'disk0', bootindex: 0 }),
      '-blockdev', JSON.stringify({ driver: 'raw', 'node-name': 'seed', 'read-only': true, file: { driver: 'file', filename: seedIso, 'read-only': true } }),
      '-device', JSON.stringify({ driver: 'virtio-blk-pci', drive: 'seed' }),
      '-netdev', JSON.stringify({ type: 'user', id: 'n0', hostfwd: [{ str: `tcp:127.0.0.1:${sshPort}-:22` }] }),
      '-device', JSON.stringify({ driver: 'virtio-net-pci', netdev: 'n0' }),
      '-chardev', `file,id=serial0,path=${serialLog}`,
      '-serial', 'chardev:serial0',
      '-device', JSON.stringify({ driver: 'virtio-serial-pci', id: 'vser0' }),
      '-chardev', `socket,id=qga0,path=${qgaSock},server=on,wait=off`,
      '-device', JSON.stringify({ driver: 'virtserialport', chardev: 'qga0', name: 'org.qemu.guest_agent.0' }),
    ];
    startedAt = Date.now();
    qemu = spawn('qemu-system-x86_64', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    qemu.stderr?.setEncoding('utf8').on('data', (d: string) => (qemuStderr += d));
    qemu.once('exit', () => (qemuExited = true));
    console.log(`debian-12: QEMU pid ${qemu.pid}, ssh forward 127.0.0.1:${sshPort}, work dir ${dir}`);
  }, 60 * 60_000);

  afterAll(async () => {
    if (qemu?.pid !== undefined && !qemuExited) {
      const exited = new Promise<void>((r) => qemu?.once('exit', () => r()));
      process.kill(qemu.pid, 'SIGTERM');
      const t = await Promise.race([exited.then(() => 'exited'), sleep(5_000).then(() => 'timeout')]);
      if (t === 'timeout' && !qemuExited) process.kill(qemu.pid, 'SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const alive = (): boolean => !qemuExited;

  it('has a complete manifest', () => {
    expect(image).toMatchObject({ name: 'debian-12', kind: 'disk', format: 'qcow2', firmware: 'bios', defaultUser: 'debian' });
    expect(path.isAbsolute(image.path)).toBe(true);
    expect(image.virtualSizeBytes).toBe(4 * 2 ** 30);
    expect(image.directBoot.cmdline).toContain('console=ttyS0');
  });

  it('boots from its disk to a login prompt on ttyS0', async () => {
    try {
      // GRUB (timeout 0) prints no menu; the kernel's first line shows it loaded the kernel.
      await waitForFile(serialLog, /Linux version/, 90_000, alive);
      await waitForFile(serialLog, /^\S+ login: /m, BOOT_TIMEOUT_MS, alive);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nqemu stderr: ${qemuStderr}`);
    }
    const text = await readFile(serialLog, 'utf8');
    console.log(`debian-12: login prompt ${((Date.now() - startedAt) / 1000).toFixed(1)} s after QEMU start (accel=tcg)`);
    expect(text).toContain('Linux version');
    expect(text).toMatch(/Welcome to .*Debian GNU\/Linux 12/);
  }, BOOT_TIMEOUT_MS + 100_000);

  it('applies the NoCloud seed: SSH as alice with the seeded key, hostname web1', async () => {
    const deadline = Date.now() + SSH_TIMEOUT_MS;
    let last = { code: -1, stdout: '', stderr: '' };
    let attempts = 0;
    while (Date.now() < deadline && alive()) {
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
          'hostname; id -un; sudo -n true && echo sudo-ok',
        ],
        30_000,
      );
      if (last.code === 0) break;
      await sleep(2_000);
    }
    const serial = await readFile(serialLog, 'utf8').catch(() => '');
    expect(last.code, `ssh failed after ${attempts} attempts: ${last.stderr}\nserial:\n${serial.slice(-3000)}`).toBe(0);
    console.log(`debian-12: SSH as alice ${((Date.now() - startedAt) / 1000).toFixed(1)} s after QEMU start (${attempts} attempts)`);
    const lines = last.stdout.trim().split('\n');
    expect(lines).toEqual(['web1', 'alice', 'sudo-ok']);
  }, SSH_TIMEOUT_MS + 60_000);

  it('runs qemu-guest-agent and finishes cloud-init', async () => {
    const reply = await guestAgent(qgaSock, 'guest-info', 60_000);
    expect(reply).toHaveProperty('return.version');
    const m = await waitForFile(serialLog, /Cloud-init v\. \S+ finished at/, 120_000, alive);
    console.log(`debian-12: "${m[0]}" seen ${((Date.now() - startedAt) / 1000).toFixed(1)} s after QEMU start; guest agent ${String((reply as { return: { version: string } }).return.version)}`);
  }, 200_000);
});
