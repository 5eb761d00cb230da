/**
 * The `tiny` starter image under real QEMU (accel=tcg): builds or reuses the image in the
 * cache dir ($HANGAR_CACHE_DIR or /var/cache/hangar), boots it, talks to the root shell on
 * the serial console, checks DHCP, and powers it off through QMP system_powerdown (ACPI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyImage, defaultCacheDir, readTinyImage, type TinyImageManifest } from '../../src/images/tiny/build.js';

const READY = 'HANGAR-GUEST-READY';

/** Buffered text from a stream, with "wait until this appears". */
class TextStream {
  text = '';
  private waiters: Array<() => void> = [];

  push(chunk: string): void {
    this.text += chunk;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolve with the match of `re` in the text after `from`, or reject after `timeoutMs`. */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output so far:\n${this.text.slice(-3000)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

async function connectUnix(sock: string, timeoutMs: number): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.createConnection(sock);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

interface Guest {
  qemu: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  serial: net.Socket;
  out: TextStream;
  qmpSock: string;
  serialLog: string;
  startedAt: number;
  stderr: () => string;
}

function qemuArgv(image: TinyImageManifest, machine: string, serialSock: string, serialLog: string, qmpSock: string): string[] {
  return [
    '-no-user-config', '-nodefaults',
    '-machine', machine, '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', '256M',
    '-display', 'none',
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', image.cmdline,
    '-chardev', `socket,id=serial0,path=${serialSock},server=on,wait=off,logfile=${serialLog}`,
    '-serial', 'chardev:serial0',
    '-netdev', JSON.stringify({ type: 'user', id: 'net0' }),
    '-device', JSON.stringify({ driver: 'virtio-net-pci', netdev: 'net0', mac: '52:54:00:12:34:56' }),
    '-device', JSON.stringify({ driver: 'virtio-balloon-pci' }),
    '-object', JSON.stringify({ 'qom-type': 'rng-random', id: 'rng0', filename: '/dev/urandom' }),
    '-device', JSON.stringify({ driver: 'virtio-rng-pci', rng: 'rng0' }),
    '-qmp', `unix:${qmpSock},server=on,wait=off`,
  ];
}

async function bootGuest(image: TinyImageManifest, machine: string, dir: string): Promise<Guest> {
  const serialSock = path.join(dir, `${machine}.serial.sock`);
  const serialLog = path.join(dir, `${machine}.serial.log`);
  const qmpSock = path.join(dir, `${machine}.qmp.sock`);
  const startedAt = Date.now();
  const qemu = spawn('qemu-system-x86_64', qemuArgv(image, machine, serialSock, serialLog, qmpSock), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  qemu.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    qemu.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const serial = await connectUnix(serialSock, 10_000);
  const out = new TextStream();
  serial.setEncoding('utf8').on('data', (d: string) => out.push(d));
  return { qemu, exited, serial, out, qmpSock, serialLog, startedAt, stderr: () => stderr };
}

/** Type a command on the serial shell and return its output (between unique markers). */
async function shell(g: Guest, command: string, timeoutMs = 15_000): Promise<string> {
  const id = Math.random().toString(36).slice(2, 8);
  const from = g.out.text.length;
  // The markers are built by the shell, so the echoed command line never matches them.
  g.serial.write(`echo "<<$((1))${id}"; ${command}; echo "${id}$((2))>>"\n`);
  const m = await g.out.waitFor(new RegExp(`<<1${id}\\r?\\n([\\s\\S]*?)${id}2>>`), timeoutMs, from);
  return (m[1] ?? '').replace(/\r/g, '');
}

/** Raw QMP: greeting, qmp_capabilities, then one command; returns the command's reply. */
async function qmp(sock: string, command: string): Promise<unknown> {
  const s = await connectUnix(sock, 5_000);
  try {
    const lines = new TextStream();
    s.setEncoding('utf8').on('data', (d: string) => lines.push(d));
    await lines.waitFor(/"QMP"/, 5_000);
    let from = lines.text.length;
    s.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
    await lines.waitFor(/\{"return": \{\}\}/, 5_000, from);
    from = lines.text.length;
    s.write(`${JSON.stringify({ execute: command, id: 'cmd-1' })}\n`);
    const m = await lines.waitFor(/^\{.*"id": "cmd-1".*\}\r?$/m, 5_000, from);
    return JSON.parse(m[0]);
  } finally {
    s.destroy();
  }
}

function killIfAlive(p: ChildProcess | undefined): void {
  if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('tiny starter image', () => {
  let image: TinyImageManifest;
  let dir: string;
  const guests: Guest[] = [];

  beforeAll(async () => {
    const cacheDir = defaultCacheDir();
    const t0 = Date.now();
    image = await buildTinyImage(cacheDir, { onProgress: (m) => console.log(`[tiny build] ${m}`) });
    console.log(`tiny image (${image.kernelVersion}) ready in ${Date.now() - t0} ms: ${image.kernel}`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'hangar-tiny-'));
  });

  afterAll(async () => {
    for (const g of guests) {
      g.serial.destroy();
      killIfAlive(g.qemu);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is cached: readTinyImage returns the same manifest', async () => {
    const again = await readTinyImage(defaultCacheDir());
    expect(again).toEqual(image);
    expect(path.isAbsolute(image.kernel) && path.isAbsolute(image.initrd)).toBe(true);
    expect(image.cmdline).toContain('console=ttyS0');
  });

  for (const machine of ['q35', 'pc']) {
    it(`boots on ${machine}, answers on the serial shell, has DHCP, powers off on ACPI`, async () => {
      const g = await bootGuest(image, machine, dir);
      guests.push(g);
      try {
        await g.out.waitFor(new RegExp(`^${READY}\\r?$`, 'm'), 60_000);
      } catch (err) {
        const log = await readFile(g.serialLog, 'utf8').catch(() => '');
        throw new Error(`${(err as Error).message}\nqemu stderr: ${g.stderr()}\nserial log: ${log.slice(-3000)}`);
      }
      const bootMs = Date.now() - g.startedAt;
      console.log(`tiny on ${machine}: ${READY} after ${bootMs} ms (accel=tcg)`);

      expect(await shell(g, 'echo $((6*7))')).toMatch(/^42$/m);
      const addr = await shell(g, 'ip -4 addr show dev eth0');
      expect(addr).toContain('inet 10.0.2.15/24');
      expect(await shell(g, 'hostname')).toMatch(/^tiny$/m);
      expect(await shell(g, 'ip -4 route show default')).toContain('default via 10.0.2.2');

      const reply = await qmp(g.qmpSock, 'system_powerdown');
      expect(reply).toMatchObject({ return: {} });
      const t0 = Date.now();
      const exit = await Promise.race([
        g.exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
      ]);
      expect(exit, `QEMU did not exit within 15 s after system_powerdown; serial:\n${g.out.text.slice(-2000)}`).not.toBe('timeout');
      console.log(`tiny on ${machine}: QEMU exited ${Date.now() - t0} ms after system_powerdown`);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(g.out.text).toContain('power button pressed');
    });
  }
});
