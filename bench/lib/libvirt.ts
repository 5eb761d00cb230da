/**
 * libvirt for side-by-side benchmarks: Debian's libvirt 9.0 (installed here if missing)
 * in a throw-away configuration.
 *
 * `libvirtd` and `virtlogd` run as the system instance, but inside a private mount
 * namespace (`unshare --mount`) in which /etc/libvirt, /run/libvirt, /var/lib/libvirt,
 * /var/cache/libvirt and /var/log/libvirt are bind mounts of directories under this run's
 * temp dir: their configuration, sockets, domain definitions, capability cache and logs
 * all live there and vanish with it. Clients reach the daemon with
 * `qemu:///system?socket=<tmp>/run/libvirt-sock`. Both daemons are started with
 * `--daemon --pid-file` and stopped by pid; every domain is destroyed (and undefined)
 * first, so libvirt removes its cgroups itself.
 *
 * Guests run as root (`user = "root"` in the throw-away qemu.conf), as Hangar's do (the
 * `libvirt-qemu` user must still exist: the QEMU driver will not start without it). With
 * Debian's default `libvirt-qemu` user, libvirt 9.0 on these machines re-probes QEMU's
 * capabilities on every lookup (it probes as root, where /dev/kvm opens, then finds
 * /dev/kvm unusable for libvirt-qemu and declares the cache stale): `virsh create` then
 * takes ~80 s. Domains are `type='qemu'` (TCG).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, killLeftovers, sleep, waitGone } from './proc.js';

export const LIBVIRT_PACKAGES = ['libvirt-daemon', 'libvirt-clients', 'libvirt-daemon-driver-qemu'] as const;
/** libvirt's own Python binding: the load tool for libvirt's API (bench/lib/libvirt-load.py). */
export const LIBVIRT_PYTHON_PACKAGE = 'python3-libvirt';
const QEMU_DRIVER = '/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so';
/** Debian's python3, where python3-libvirt installs (a pyenv python3 on PATH would not see it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const HOST_DIRS = { etc: '/etc/libvirt', run: '/run/libvirt', lib: '/var/lib/libvirt', cache: '/var/cache/libvirt', log: '/var/log/libvirt' } as const;
type DirKey = keyof typeof HOST_DIRS;

/** The built tiny image's manifest (kernel, initrd, cmdline), as bench/run.ts finds it. */
export function tinyManifestPath(): string {
  return join(process.env.HANGAR_CACHE_DIR ?? '/var/cache/hangar', 'images', 'tiny', 'manifest.json');
}

function have(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function aptInstall(pkgs: readonly string[], progress: (m: string) => void): void {
  progress(`installing ${pkgs.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    install();
  }
}

/** Installs Debian's libvirt daemon, client and QEMU driver (and, if asked, the Python binding) when missing. */
export function ensureLibvirt(progress: (m: string) => void, opts: { python?: boolean } = {}): void {
  const missing: string[] = [];
  if (!existsSync('/usr/sbin/libvirtd') || !existsSync('/usr/sbin/virtlogd')) missing.push('libvirt-daemon');
  if (!have('virsh', ['--version'])) missing.push('libvirt-clients');
  if (!existsSync(QEMU_DRIVER)) missing.push('libvirt-daemon-driver-qemu');
  if (opts.python && !have(SYSTEM_PYTHON, ['-c', 'import libvirt'])) missing.push(LIBVIRT_PYTHON_PACKAGE);
  if (missing.length > 0) aptInstall(missing, progress);
  // The QEMU driver refuses to start without its compiled-in default user, even though
  // guests here run as root; Debian's libvirt-daemon-system would create it.
  if (!have('id', ['libvirt-qemu'])) {
    progress('creating the system user libvirt-qemu (libvirt\'s QEMU driver needs it to exist)');
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'libvirt-qemu'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (!have('unshare', ['--version'])) throw new Error('`unshare` (util-linux) is needed to give libvirt its throw-away directories');
}

export interface TimedCmd {
  t0: number;
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its timing (spawn → exit) and output. */
export function runTimed(cmd: string, args: readonly string[]): Promise<TimedCmd> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ t0, ms: performance.now() - t0, code, stdout, stderr }));
  });
}

export interface GuestDef {
  name: string;
  memoryMiB: number;
  /** File the guest's serial console is written to (libvirt opens it and hands QEMU the fd). */
  serialLog: string;
}

export class LibvirtHost {
  readonly uri: string;
  readonly guestDir: string;
  private kernel = '';
  private initrd = '';
  private cmdline = '';
  private libvirtdPidValue = -1;
  private virtlogdPidValue = -1;
  /** Host mount points (and cgroup dirs) that did not exist before we started, removed again at the end. */
  private createdMountPoints: string[] = [];
  private cgroupsBefore = new Set<string>();

  private constructor(readonly dir: string, private readonly progress: (m: string) => void) {
    this.uri = `qemu:///system?socket=${join(dir, 'run', 'libvirt-sock')}`;
    this.guestDir = join(dir, 'guest');
  }

  /** Sets up the throw-away dirs and config, starts virtlogd and libvirtd, waits until libvirt has probed QEMU. */
  static async start(parent: string, tinyManifest: string, progress: (m: string) => void): Promise<LibvirtHost> {
    const dir = join(parent, 'lv');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const h = new LibvirtHost(dir, progress);
    try {
      await h.setUp(tinyManifest);
      await h.startVirtlogd();
      await h.startLibvirtd();
      return h;
    } catch (e) {
      await h.stop();
      throw e;
    }
  }

  get libvirtdPid(): number {
    return this.libvirtdPidValue;
  }

  get virtlogdPid(): number {
    return this.virtlogdPidValue;
  }

  private sub(k: DirKey): string {
    return join(this.dir, k);
  }

  private async setUp(tinyManifest: string): Promise<void> {
    for (const k of Object.keys(HOST_DIRS) as DirKey[]) mkdirSync(this.sub(k), { recursive: true, mode: 0o755 });
    mkdirSync(this.guestDir, { recursive: true, mode: 0o755 });
    // The kernel and initrd are copied so libvirt's DAC labelling never touches Hangar's image cache.
    const m = JSON.parse(readFileSync(tinyManifest, 'utf8')) as { kernel: string; initrd: string; cmdline: string };
    this.kernel = join(this.guestDir, 'kernel');
    this.initrd = join(this.guestDir, 'initrd.img');
    copyFileSync(m.kernel, this.kernel);
    copyFileSync(m.initrd, this.initrd);
    this.cmdline = m.cmdline;
    const log = this.sub('log');
    writeFileSync(join(this.sub('etc'), 'libvirtd.conf'), [
      'unix_sock_group = "root"',
      'unix_sock_ro_perms = "0700"',
      'unix_sock_rw_perms = "0700"',
      'auth_unix_ro = "none"',
      'auth_unix_rw = "none"',
      `log_outputs = "3:file:${log}/libvirtd.log"`,
      '',
    ].join('\n'));
    writeFileSync(join(this.sub('etc'), 'virtlogd.conf'), `log_outputs = "3:file:${log}/virtlogd.log"\n`);
    writeFileSync(join(this.sub('etc'), 'qemu.conf'), ['user = "root"', 'group = "root"', ''].join('\n'));
    for (const target of Object.values(HOST_DIRS)) {
      if (!existsSync(target)) {
        mkdirSync(target, { recursive: true, mode: 0o755 });
        this.createdMountPoints.push(target);
      }
    }
    this.cgroupsBefore = new Set(machineCgroups());
  }

  /** Runs `sh -ec SCRIPT` inside a fresh private mount namespace with libvirt's dirs bound to ours. */
  private async inNamespace(script: string): Promise<void> {
    const binds = (Object.entries(HOST_DIRS) as Array<[DirKey, string]>).map(([k, target]) => `mount --bind '${this.sub(k)}' '${target}'`);
    const r = await runTimed('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-ec', [...binds, script].join('\n')]);
    if (r.code !== 0) throw new Error(`starting a libvirt daemon failed (exit ${r.code}): ${r.stderr.trim()}`);
  }

  private async startVirtlogd(): Promise<void> {
    const pidFile = join(this.dir, 'virtlogd.pid');
    await this.inNamespace(`exec virtlogd --daemon --pid-file '${pidFile}' --config '${join(this.sub('etc'), 'virtlogd.conf')}'`);
    this.virtlogdPidValue = await readPidFile(pidFile);
  }

  /** Spawns libvirtd (daemonizing); returns performance.now() at spawn. Does not wait for it to answer. */
  async spawnLibvirtd(): Promise<number> {
    const pidFile = join(this.dir, 'libvirtd.pid');
    const t0 = performance.now();
    await this.inNamespace(`exec libvirtd --daemon --pid-file '${pidFile}' --config '${join(this.sub('etc'), 'libvirtd.conf')}'`);
    this.libvirtdPidValue = await readPidFile(pidFile);
    return t0;
  }

  private async startLibvirtd(): Promise<void> {
    await this.spawnLibvirtd();
    // `virsh version` needs QEMU's capabilities: the first one probes QEMU (seconds).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await runTimed('virsh', ['-c', this.uri, 'version']);
      if (r.code === 0) break;
      if (!isAlive(this.libvirtdPidValue) || Date.now() > deadline) throw new Error(`libvirtd did not come up: ${r.stderr.trim()}\n${this.logTail()}`);
      await sleep(100);
    }
  }

  /** SIGTERM to libvirtd by pid; resolves once it has exited. Guests keep running. */
  async stopLibvirtd(): Promise<void> {
    const pid = this.libvirtdPidValue;
    if (pid <= 0 || !isAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid, 30_000, 5))) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5000, 5);
    }
  }

  logTail(): string {
    try {
      return readFileSync(join(this.sub('log'), 'libvirtd.log'), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  /** `virsh -c URI ARGS…`, timed from spawn to exit. */
  virsh(args: readonly string[]): Promise<TimedCmd> {
    return runTimed('virsh', ['-c', this.uri, ...args]);
  }

  /** Like virsh() but throws when it fails. */
  async virshOk(args: readonly string[]): Promise<TimedCmd> {
    const r = await this.virsh(args);
    if (r.code !== 0) throw new Error(`virsh ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  /** Names of running (or, with all, also defined) domains. */
  async names(all = false): Promise<string[]> {
    const r = await this.virshOk(['list', '--name', ...(all ? ['--all'] : [])]);
    return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  }

  /**
   * The tiny guest as a libvirt domain, matching Hangar's QEMU for it: q35, `-cpu max`
   * (`<cpu mode='maximum'/>`), 1 vCPU, user-mode virtio NIC, serial console to a file,
   * VGA with VNC on a unix socket, virtio balloon and RNG, no USB; TCG (`type='qemu'`).
   */
  domainXml(g: GuestDef): string {
    const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll("'", '&apos;');
    return `<domain type='qemu'>
  <name>${esc(g.name)}</name>
  <memory unit='MiB'>${g.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${esc(this.kernel)}</kernel>
    <initrd>${esc(this.initrd)}</initrd>
    <cmdline>${esc(this.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='file'><source path='${esc(g.serialLog)}'/><target port='0'/></serial>
    <graphics type='vnc'><listen type='socket'/></graphics>
    <video><model type='vga'/></video>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
`;
  }

  /** Writes the domain XML under the guest dir; returns its path. */
  writeDomain(g: GuestDef, file = `${g.name}.xml`): string {
    const path = join(this.guestDir, file);
    writeFileSync(path, this.domainXml(g));
    return path;
  }

  /** The QEMU pid of a running domain, from libvirt's pidfile (/run/libvirt/qemu/NAME.pid, ours). */
  qemuPid(name: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.sub('run'), 'qemu', `${name}.pid`), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Destroys every running domain and undefines every defined one (best effort, in parallel batches). */
  async removeAllDomains(): Promise<void> {
    if (!isAlive(this.libvirtdPidValue)) return;
    const running = await this.names().catch(() => [] as string[]);
    await inBatches(running, 25, (n) => this.virsh(['destroy', n]));
    const defined = await this.names(true).catch(() => [] as string[]);
    // Many definitions (the API case's 1,000) go faster in one virsh process.
    for (let i = 0; i < defined.length; i += 200) {
      const cmds = defined.slice(i, i + 200).map((n) => `undefine '${n}'`).join(' ; ');
      await this.virsh([cmds]);
    }
  }

  /** Removes the domains, stops libvirtd and virtlogd by pid, kills any QEMU of ours left, removes what we created outside the temp dir. */
  async stop(): Promise<void> {
    try {
      await this.removeAllDomains();
    } catch (e) {
      this.progress(`libvirt: removing domains failed: ${String(e)}`);
    }
    await this.stopLibvirtd();
    const vl = this.virtlogdPidValue;
    if (vl > 0 && isAlive(vl)) {
      process.kill(vl, 'SIGTERM');
      if (!(await waitGone(vl, 10_000))) process.kill(vl, 'SIGKILL');
    }
    const left = await killLeftovers(`${this.dir}/`);
    if (left.length > 0) this.progress(`libvirt: killed leftover processes ${left.join(', ')}`);
    // Cgroups libvirt made and did not remove (only when something above failed), deepest first.
    for (const cg of machineCgroups().filter((c) => !this.cgroupsBefore.has(c)).sort((a, b) => b.length - a.length)) {
      try {
        rmdirSync(cg);
      } catch {
        // busy or gone
      }
    }
    for (const m of this.createdMountPoints.reverse()) {
      try {
        rmdirSync(m);
      } catch {
        // not empty: someone else uses it now
      }
    }
    this.createdMountPoints = [];
  }
}

/** Directories under /sys/fs/cgroup/<controller>/machine (libvirt's), up to three levels. */
function machineCgroups(): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    out.push(d);
    if (depth >= 3) return;
    let entries: string[] = [];
    try {
      entries = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(d, e), depth + 1);
  };
  let ctrls: string[] = [];
  try {
    ctrls = readdirSync('/sys/fs/cgroup');
  } catch {
    return out;
  }
  for (const c of ctrls) {
    const m = join('/sys/fs/cgroup', c, 'machine');
    if (existsSync(m)) walk(m, 0);
  }
  return out;
}

async function readPidFile(path: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) return pid;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`no pid in ${path}`);
    await sleep(5);
  }
}

/** Runs fn over items, `size` at a time. */
export async function inBatches<T, R>(items: readonly T[], size: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}
