/**
 * The Debian package (`npm run package`, scripts/package.mjs) in a fresh Debian 12 root made
 * with debootstrap: only the .deb is copied in, apt installs it with its dependencies from
 * Debian's archive, no installed file names the build tree, `systemd-analyze verify` passes on
 * its units, `hangar daemon` runs from the installed files, builds the tiny image with the
 * installed `hangar image build tiny` and boots a guest; remove keeps the data, purge deletes it.
 *
 * Caches across runs (a second run downloads only apt's index updates and the tiny image's
 * two .debs, which `apt-get download` always fetches):
 * - /var/cache/hangar/debootstrap/bookworm-amd64: debootstrap's .debs (shared with the
 *   debian-12 image build, like src/images/debian/build.ts);
 * - /var/cache/hangar/package-test/bookworm-minbase.tar: the root debootstrap made, as it made
 *   it (debootstrap takes ~4 minutes here, most of it its own shell work): each run unpacks a
 *   fresh copy; remade when older than a week;
 * - /var/cache/hangar/package-test/apt-archives and apt-lists: bind-mounted onto the root's
 *   /var/cache/apt/archives and /var/lib/apt/lists.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmdirSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEnv, removeTree, run, unmountUnder } from '../../src/images/debian/host.js';
import { pickMirror, pickSecurityMirror, readHostAptSources } from '../../src/images/debian/mirror.js';
import { ROOT, sleep, waitFor } from './harness.js';

const CACHE = '/var/cache/hangar';
const DEBOOTSTRAP_CACHE = join(CACHE, 'debootstrap', 'bookworm-amd64');
const TEST_CACHE = join(CACHE, 'package-test');
const BASE_TAR = join(TEST_CACHE, 'bookworm-minbase.tar');
const BASE_MAX_AGE_MS = 7 * 86400_000;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = join(ROOT, 'dist-pkg', `hangar_${VERSION}_amd64.deb`);
const UNITS = ['hangar.service', 'hangar-guests.service'];
const VM = 'pkgtiny';

let work: string;
let root: string;
let daemon: ChildProcess | undefined;
let daemonLog = '';
let vmId: string | undefined;
const timings: string[] = [];

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** A command inside the root (no shell; a clean environment, as a unit would have). */
function inRoot(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  return run('chroot', [root, ...args], { env: buildEnv(opts.env ?? {}), timeoutMs: opts.timeoutMs ?? 120_000 });
}

/** The variables /etc/hangar/hangar.env sets (as the unit's EnvironmentFile= reads them). */
function unitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(root, 'etc/hangar/hangar.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** Whether a path in the root is there, as a file or a link (a unit's link names a path in the root, not on the host). */
function linked(path: string): boolean {
  return lstatSync(join(root, path), { throwIfNoEntry: false }) !== undefined;
}

/** Processes whose root directory is the test's root: the daemon, its guests, anything left. */
function processesInRoot(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/root`) === root) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function stopEverything(): Promise<void> {
  if (daemon?.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGTERM');
  await waitFor('the daemon to exit', () => daemon === undefined || daemon.exitCode !== null || daemon.signalCode !== null, 20_000).catch(() => undefined);
  for (let round = 0; round < 50; round++) {
    const left = root ? processesInRoot() : [];
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await sleep(100);
  }
  // The guest's cgroup (src/resources/cgroups.ts) is the host's: removed when QEMU is gone.
  if (vmId !== undefined) {
    try {
      rmdirSync(`/sys/fs/cgroup/hangar/vm-${vmId}`);
    } catch {
      // removed by the daemon, or never made
    }
  }
}

/** debootstrap's minbase root, made once a week and unpacked afresh for each run. */
async function makeRoot(): Promise<void> {
  mkdirSync(TEST_CACHE, { recursive: true });
  const fresh = existsSync(BASE_TAR) && Date.now() - statSync(BASE_TAR).mtimeMs < BASE_MAX_AGE_MS;
  if (!fresh) {
    const sources = await readHostAptSources();
    const mirror = process.env['HANGAR_DEBIAN_MIRROR'] || pickMirror(sources, 'bookworm');
    if (!mirror) throw new Error('no apt source for bookworm/main on this host: set HANGAR_DEBIAN_MIRROR');
    mkdirSync(DEBOOTSTRAP_CACHE, { recursive: true });
    const base = join(work, 'base');
    await timed('debootstrap', () => run('debootstrap', ['--variant=minbase', '--arch=amd64', '--components=main', '--merged-usr', `--cache-dir=${DEBOOTSTRAP_CACHE}`, 'bookworm', base, mirror], { timeoutMs: 15 * 60_000 }));
    await unmountUnder(base);
    const tmp = `${BASE_TAR}.${process.pid}.tmp`;
    await run('tar', ['-C', base, '--numeric-owner', '-cf', tmp, '.'], { timeoutMs: 5 * 60_000 });
    renameSync(tmp, BASE_TAR);
    await removeTree(base);
  }
  mkdirSync(root);
  await timed('unpack the minbase root', () => run('tar', ['-C', root, '--numeric-owner', '-xpf', BASE_TAR], { timeoutMs: 5 * 60_000 }));
  // Debian's archive, as the host's apt reaches it: the release, its updates, its security fixes.
  const sources = await readHostAptSources();
  const mirror = process.env['HANGAR_DEBIAN_MIRROR'] || pickMirror(sources, 'bookworm')!;
  const security = pickSecurityMirror(sources, 'bookworm');
  writeFileSync(join(root, 'etc/apt/sources.list'), [
    `deb ${mirror} bookworm main`,
    `deb ${mirror} bookworm-updates main`,
    ...(security ? [`deb ${security} bookworm-security main`] : []),
    '',
  ].join('\n'));
  // No service of any package starts inside the root (it is not a booted system), and dpkg
  // does not sync every file it writes to disk (a throw-away root: a third of apt's time).
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  writeFileSync(join(root, 'etc/dpkg/dpkg.cfg.d/hangar-test-unsafe-io'), 'force-unsafe-io\n');
  await run('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  for (const d of ['sys', 'dev']) {
    await run('mount', ['--rbind', `/${d}`, join(root, d)]);
    // Unmounting them later must not reach the host's own mounts.
    await run('mount', ['--make-rslave', join(root, d)]);
  }
  for (const [cache, inside] of [['apt-archives', 'var/cache/apt/archives'], ['apt-lists', 'var/lib/apt/lists']] as const) {
    mkdirSync(join(TEST_CACHE, cache, 'partial'), { recursive: true });
    mkdirSync(join(root, inside), { recursive: true });
    await run('mount', ['--bind', join(TEST_CACHE, cache), join(root, inside)]);
  }
}

describe('the Debian package in a fresh Debian 12 root', () => {
  beforeAll(async () => {
    await timed('npm run package', () => run('npm', ['run', '--silent', 'package'], { cwd: ROOT, env: { ...process.env } as Record<string, string>, timeoutMs: 5 * 60_000 }));
    expect(existsSync(DEB)).toBe(true);
    work = await mkdtemp('/var/tmp/hangar-package-test-');
    root = join(work, 'root');
    await makeRoot();
  }, 14 * 60_000);

  afterAll(async () => {
    try {
      await stopEverything();
    } finally {
      if (work) await removeTree(work);
      console.log(`package test: ${timings.join('; ')}`);
      if (daemonLog && process.env['HANGAR_TEST_VERBOSE']) console.log(daemonLog);
    }
  }, 120_000);

  it('installs with apt from Debian\'s archive plus the .deb alone', async () => {
    // Only the package goes in: the root sees nothing of the build tree.
    copyFileSync(DEB, join(root, 'tmp', `hangar_${VERSION}_amd64.deb`));
    await timed('apt-get update', () => inRoot(['apt-get', '-q', 'update'], { timeoutMs: 5 * 60_000 }));
    // systemd first, as on every Debian 12 host (minbase has none): the postinst enables the
    // units with systemctl, and systemd-analyze verify needs systemd's units in the root.
    await timed('apt-get install systemd', () => inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'systemd'], { timeoutMs: 10 * 60_000 }));
    await timed('apt-get install hangar', () => inRoot(['apt-get', 'install', '-y', '-q', '--no-install-recommends', `/tmp/hangar_${VERSION}_amd64.deb`], { timeoutMs: 10 * 60_000 }));
    const status = await inRoot(['dpkg-query', '-W', '-f=${Status} ${Version}', 'hangar']);
    expect(status.stdout).toBe(`install ok installed ${VERSION}`);
    // The kept .debs stay bounded: those Debian's archive no longer has go.
    await inRoot(['apt-get', '-q', 'autoclean']);
    expect((await inRoot(['hangar', '--version'])).stdout.trim()).toBe(VERSION);
    expect((await inRoot(['getent', 'group', 'hangar'])).stdout).toMatch(/^hangar:/);
    for (const d of ['var/lib/hangar', 'var/log/hangar']) expect(statSync(join(root, d)).isDirectory()).toBe(true);
    // Enabled on a first install; not started: systemd does not run in the root.
    for (const unit of UNITS) expect(linked(`etc/systemd/system/multi-user.target.wants/${unit}`), unit).toBe(true);
  }, 12 * 60_000);

  it('installs no file that names the build tree', async () => {
    const files = (await inRoot(['dpkg', '-L', 'hangar'])).stdout.split('\n').filter(Boolean);
    expect(files).toContain('/usr/lib/hangar/node');
    // Shell completion and man pages, made from the CLI at package time.
    for (const f of ['/usr/share/bash-completion/completions/hangar', '/usr/share/zsh/vendor-completions/_hangar', '/usr/share/fish/vendor_completions.d/hangar.fish', '/usr/share/man/man1/hangar.1.gz', '/usr/share/man/man1/hangar-vm.1.gz']) expect(files).toContain(f);
    expect(readFileSync(join(root, 'usr/share/bash-completion/completions/hangar'), 'utf8')).toMatch(/complete .*hangar/);
    // This checkout, and the one its node_modules are in (a worktree's may be another's).
    const trees = [...new Set([realpathSync(ROOT), dirname(realpathSync(join(ROOT, 'node_modules')))])];
    const naming: string[] = [];
    for (const f of files) {
      const host = join(root, f);
      const st = statSync(host, { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      const bytes = readFileSync(host);
      for (const t of trees) if (bytes.includes(Buffer.from(t))) naming.push(`${f} names ${t}`);
    }
    expect(naming).toEqual([]);
  });

  it('passes systemd-analyze verify on every unit', async () => {
    for (const unit of UNITS) {
      const r = await run('systemd-analyze', ['verify', `--root=${root}`, `/lib/systemd/system/${unit}`], { timeoutMs: 60_000 });
      // verify prints problems on stderr and still exits 0 for some: none is allowed.
      expect(r.stderr.trim(), unit).toBe('');
    }
  });

  it('runs the daemon from the installed files and boots a tiny guest', async () => {
    const env = buildEnv({ ...unitEnvironment(), HANGAR_BUILD_IMAGES: '0' });
    daemon = spawn('chroot', [root, '/usr/bin/hangar', 'daemon', '--accel', 'tcg'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout!.on('data', (c: Buffer) => (daemonLog += c.toString()));
    daemon.stderr!.on('data', (c: Buffer) => (daemonLog += c.toString()));
    // hangar.service's ExecStartPost: started once the API socket serves.
    await timed('daemon ready', () => inRoot(['/usr/lib/hangar/node', '/usr/lib/hangar/wait-ready.cjs'], { env: { MAINPID: String(daemon!.pid) } }));
    // The daemon runs the carried Node, in the root.
    expect(readlinkSync(`/proc/${daemon.pid}/exe`)).toBe(join(root, 'usr/lib/hangar/node'));

    await timed('hangar image build tiny', () => inRoot(['hangar', 'image', 'build', 'tiny'], { timeoutMs: 8 * 60_000 }));
    await timed('guest boot', async () => {
      await inRoot(['hangar', 'vm', 'create', VM, '--image', 'tiny', '--cpus', '1', '--memory', '256M', '--start']);
      await waitFor('the guest to boot', async () => (await inRoot(['hangar', 'vm', 'logs', VM])).stdout.includes('HANGAR-GUEST-READY'), 120_000, 500);
    });
    const vm = JSON.parse((await inRoot(['hangar', 'vm', 'show', VM, '--output', 'json'])).stdout) as { id: string; state: string };
    vmId = vm.id;
    expect(vm.state).toBe('running');
    // The guests' logs are where the packaged settings put them.
    expect(existsSync(join(root, 'var/log/hangar', vm.id))).toBe(true);

    // The code cache is written outside /usr a few seconds after the daemon's start.
    await waitFor('the code cache', () => existsSync(join(root, 'var/cache/hangar/code-cache')) && readdirSync(join(root, 'var/cache/hangar/code-cache')).some((f) => f.endsWith('.cache')), 20_000, 250);
    const installed = new Set((await inRoot(['dpkg', '-L', 'hangar'])).stdout.split('\n').filter(Boolean));
    const underLib = (await inRoot(['find', '/usr/lib/hangar'])).stdout.split('\n').filter(Boolean);
    expect(underLib.filter((f) => !installed.has(f))).toEqual([]);

    await inRoot(['hangar', 'vm', 'delete', VM, '--force']);
    daemon.kill('SIGTERM');
    await waitFor('the daemon to exit', () => daemon!.exitCode !== null || daemon!.signalCode !== null, 30_000);
    // What outlives the daemon, by design: logd, the guests' log process (it caps running
    // guests' logs while no daemon runs). Nothing else; it is stopped by its pid.
    const left = processesInRoot();
    expect(left.map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1, 2).join(''))).toEqual(left.map(() => '/usr/lib/hangar/dist/bundle/logd.cjs'));
    for (const pid of left) process.kill(pid, 'SIGTERM');
    await waitFor('logd to exit', () => processesInRoot().length === 0, 10_000);
  }, 12 * 60_000);

  it('keeps the data when removed and deletes it when purged', async () => {
    await inRoot(['apt-get', 'remove', '-y', '-q', 'hangar'], { timeoutMs: 5 * 60_000 });
    expect((await inRoot(['dpkg-query', '-W', '-f=${Status}', 'hangar'])).stdout).toBe('deinstall ok config-files');
    expect(existsSync(join(root, 'usr/lib/hangar/node'))).toBe(false);
    for (const kept of ['var/lib/hangar', 'var/log/hangar', 'etc/hangar/hangar.env']) expect(existsSync(join(root, kept)), kept).toBe(true);
    expect(readdirSync(join(root, 'var/lib/hangar')).length).toBeGreaterThan(0);
    await inRoot(['dpkg', '--purge', 'hangar'], { timeoutMs: 5 * 60_000 });
    for (const gone of ['var/lib/hangar', 'var/log/hangar', 'etc/hangar', 'var/cache/hangar']) expect(existsSync(join(root, gone)), gone).toBe(false);
    for (const unit of UNITS) expect(linked(`etc/systemd/system/multi-user.target.wants/${unit}`), unit).toBe(false);
  }, 10 * 60_000);
});
