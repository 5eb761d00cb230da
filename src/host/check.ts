/**
 * `hangar host check`: is this host fit to run Hangar's guests? Like libvirt's
 * `virt-host-validate`, one line per check with PASS / WARN / FAIL and a hint for what to do.
 *
 * Everything is read from /proc, /sys and /dev, or asked of the binaries themselves
 * (`--version`, spawned with argv arrays); the KVM check really boots guests under KVM
 * (see kvm-probe.ts), because on nested hosts /dev/kvm opens fine and yet no guest gets
 * anywhere on it.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { detectCgroups } from '../resources/cgroups.js';
import { describeExit, findProgram, run, succeeded } from '../util/run.js';
import { compareVersions } from '../util/version.js';
import { DEFAULT_CACHE_DIR, probeKvm, type KvmProbeOptions, type KvmProbeResult } from './kvm-probe.js';
import { pathExists } from '../util/files.js';

/** Kept here for the host check's callers and tests. */
export { compareVersions };

export { probeKvm, probeBiosImage, type KvmProbeResult, type KvmProbeOptions } from './kvm-probe.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
}

export interface HostCheckOptions {
  /** Default `qemu-system-x86_64` (from PATH). */
  qemuBinary?: string;
  /** How long each KVM probe guest may take; default 5000 ms. */
  kvmProbeTimeoutMs?: number;
  /** Where built images live; default /var/cache/hangar. */
  cacheDir?: string;
  /** The KVM device to check; default /dev/kvm. Tests point it at a missing path, a file or another char device. */
  kvmDevice?: string;
  /** Runs the KVM probe; default {@link probeKvm}. Tests inject a result to cover each branch on any host. */
  probe?: (qemuBinary: string, timeoutMs: number, opts: KvmProbeOptions) => Promise<KvmProbeResult>;
}

export const MIN_QEMU_VERSION: readonly [number, number] = [7, 0];
const DEFAULT_QEMU = 'qemu-system-x86_64';
const DEFAULT_PROBE_TIMEOUT_MS = 5000;

/** The optional host tools and what needs them. */
const TOOLS: readonly { name: string; pkg: string; neededFor: string }[] = [
  { name: 'xorriso', pkg: 'xorriso', neededFor: 'cloud-init seed ISOs (vm create --ssh-key/--user-data …)' },
  { name: 'dnsmasq', pkg: 'dnsmasq-base', neededFor: 'DHCP and DNS on managed networks' },
  { name: 'ip', pkg: 'iproute2', neededFor: 'bridges and taps of managed networks' },
  { name: 'nft', pkg: 'nftables', neededFor: 'NAT and isolation rules of managed networks' },
];

// --- small helpers ------------------------------------------------------------------------------


async function canReadWrite(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}


/** `binary --version`'s first version number, or undefined. */
async function toolVersion(binary: string): Promise<{ version?: string; error?: string }> {
  const r = await run(binary, ['--version'], { timeoutMs: 5000 });
  const m = /version\s+(\d+\.\d+(?:\.\d+)?)/i.exec(r.stdout);
  if (m?.[1]) return { version: m[1] };
  return { error: !succeeded(r) ? `${binary} --version: ${r.spawnError?.message ?? describeExit(r)}` : (r.stderr.trim() || 'no version in its --version output') };
}


/** `key: value kB` lines of /proc/meminfo as numbers. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

export interface MountEntry {
  source: string;
  target: string;
  type: string;
  options: string[];
}

/** /proc/mounts lines (octal escapes such as \040 decoded). */
export function parseMounts(text: string): MountEntry[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  return text.split('\n').filter(Boolean).map((line) => {
    const [source = '', target = '', type = '', options = ''] = line.split(' ');
    return { source: unescape(source), target: unescape(target), type, options: options.split(',') };
  });
}

const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'blkio', 'pids', 'devices', 'freezer', 'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc'];

/** Controllers available, by hierarchy: v1 from mount options, v2 from cgroup.controllers. */
export function cgroupControllers(mounts: MountEntry[], v2Controllers: Map<string, string>): { v1: Map<string, string>; v2: Map<string, string[]> } {
  const v1 = new Map<string, string>();
  const v2 = new Map<string, string[]>();
  for (const m of mounts) {
    if (m.type === 'cgroup') {
      for (const o of m.options) if (V1_CONTROLLERS.includes(o) && !v1.has(o)) v1.set(o, m.target);
    } else if (m.type === 'cgroup2') {
      v2.set(m.target, (v2Controllers.get(m.target) ?? '').split(/\s+/).filter(Boolean));
    }
  }
  return { v1, v2 };
}

const mib = (kB: number): string => (kB >= 1024 * 1024 ? `${kB / 1024 / 1024} GiB` : kB >= 1024 ? `${kB / 1024} MiB` : `${kB} kB`);

// --- the checks ---------------------------------------------------------------------------------

interface QemuFound {
  path?: string;
  version?: string;
}

async function checkQemu(binary: string): Promise<[CheckResult, QemuFound]> {
  const base = { id: 'qemu', title: 'QEMU: Checking for the qemu binary' };
  const path = findProgram(binary);
  if (!path) {
    return [{ ...base, status: 'fail', detail: `${binary} not found on PATH`, hint: 'Install QEMU: apt-get install qemu-system-x86' }, {}];
  }
  const { version, error } = await toolVersion(path);
  if (!version) {
    return [{ ...base, status: 'fail', detail: `${path} does not run: ${error ?? 'unknown error'}`, hint: 'Reinstall QEMU: apt-get install --reinstall qemu-system-x86' }, { path }];
  }
  const min = MIN_QEMU_VERSION.join('.');
  if (compareVersions(version, MIN_QEMU_VERSION) < 0) {
    return [{ ...base, status: 'fail', detail: `${version} at ${path}, older than ${min}`, hint: `Hangar needs QEMU ${min} or newer (Debian 12 ships 7.2)` }, { path, version }];
  }
  return [{ ...base, status: 'pass', detail: `${version}, ${path}` }, { path, version }];
}

async function checkQemuImg(): Promise<CheckResult> {
  const base = { id: 'qemu-img', title: 'QEMU: Checking for qemu-img' };
  const path = findProgram('qemu-img');
  if (!path) return { ...base, status: 'fail', detail: 'qemu-img not found: volumes, images and snapshots need it', hint: 'apt-get install qemu-utils' };
  const { version, error } = await toolVersion(path);
  if (!version) return { ...base, status: 'fail', detail: `${path} does not run: ${error ?? 'unknown error'}`, hint: 'apt-get install --reinstall qemu-utils' };
  return { ...base, status: 'pass', detail: `${version}, ${path}` };
}

async function checkKvmDevice(device: string): Promise<CheckResult> {
  const base = { id: 'kvm-device', title: 'QEMU: Checking if device /dev/kvm exists and is accessible' };
  let isChar = false;
  try {
    isChar = (await stat(device)).isCharacterDevice();
  } catch {
    return {
      ...base, status: 'fail', detail: `${device} does not exist: guests can only run under TCG (software emulation)`,
      hint: 'Enable VT-x/AMD-V in the firmware and load the module (modprobe kvm_intel or kvm_amd); otherwise run guests with --accel tcg',
    };
  }
  if (!isChar) return { ...base, status: 'fail', detail: `${device} is not a character device`, hint: 'Check what created /dev/kvm; udev should make it a char device 10:232' };
  if (!(await canReadWrite(device))) {
    return { ...base, status: 'fail', detail: `${device} exists but is not readable and writable by this user`, hint: 'Run Hangar as root, or add its user to the kvm group' };
  }
  return { ...base, status: 'pass', detail: `${device} is a read-write character device` };
}

async function checkKvmProbe(qemu: QemuFound, kvmDevice: CheckResult, timeoutMs: number, cacheDir: string, probeFn: NonNullable<HostCheckOptions['probe']>): Promise<[CheckResult, KvmProbeResult | undefined]> {
  const base = { id: 'kvm-probe', title: 'QEMU: Checking if a guest really runs under KVM' };
  const tcgHint = 'Run guests with TCG: start the daemon with --accel tcg (HANGAR_ACCEL=tcg) or create VMs with --accel tcg';
  if (!qemu.path) return [{ ...base, status: 'fail', detail: 'not probed: no QEMU binary', hint: 'Install QEMU first (apt-get install qemu-system-x86)' }, undefined];
  if (kvmDevice.status !== 'pass') return [{ ...base, status: 'fail', detail: `not probed: ${kvmDevice.detail}`, hint: tcgHint }, undefined];
  const probe = await probeFn(qemu.path, timeoutMs, { cacheDir });
  if (!probe.usable) {
    return [{
      ...base, status: 'fail',
      detail: probe.detail,
      hint: `${tcgHint}. Note --accel auto only checks that /dev/kvm opens, and would pick KVM here`,
    }, probe];
  }
  if (!probe.defaultCpuOk) {
    return [{ ...base, status: 'warn', detail: probe.detail, hint: `Create KVM guests with --cpu-model qemu64 (the default, max, does not start under KVM here), or use --accel tcg` }, probe];
  }
  if (!probe.linux.tried) {
    return [{ ...base, status: 'warn', detail: probe.detail, hint: 'Build the tiny image (hangar image build tiny) and check again to have a Linux guest booted under KVM' }, probe];
  }
  return [{ ...base, status: 'pass', detail: probe.detail }, probe];
}

async function checkCgroups(): Promise<CheckResult> {
  const base = { id: 'cgroups', title: 'QEMU: Checking for cgroup support and controllers' };
  const mounts = parseMounts((await readText('/proc/mounts')) ?? '');
  const v2Files = new Map<string, string>();
  for (const m of mounts.filter((x) => x.type === 'cgroup2')) v2Files.set(m.target, (await readText(join(m.target, 'cgroup.controllers'))) ?? '');
  const { v1, v2 } = cgroupControllers(mounts, v2Files);
  const driver = detectCgroups();
  const unifiedRoot = v2.get('/sys/fs/cgroup');
  // The controllers Hangar's guests would be limited with, as one list whatever the version.
  const wanted = ['cpu', 'cpuset', 'memory', 'io', 'pids'];
  const have = new Set<string>();
  let layout: string;
  if (unifiedRoot) {
    layout = 'v2 (unified)';
    for (const c of unifiedRoot) have.add(c);
  } else {
    const hybrid = [...v2.keys()];
    layout = v1.size > 0 ? `v1${hybrid.length ? ` (hybrid: cgroup2 also at ${hybrid.join(', ')})` : ''}` : hybrid.length ? `v2 at ${hybrid.join(', ')}` : 'none mounted';
    for (const c of v1.keys()) have.add(c === 'blkio' ? 'io' : c);
  }
  const present = wanted.filter((c) => have.has(c)).map((c) => (c === 'io' && !unifiedRoot ? 'blkio' : c));
  const missing = wanted.filter((c) => !have.has(c)).map((c) => (c === 'io' && !unifiedRoot ? 'blkio' : c));
  const listing = `${layout}; controllers: ${present.join(', ') || 'none'}${missing.length ? `; missing: ${missing.join(', ')}` : ''}`;
  if (!driver) {
    return {
      ...base, status: 'warn', detail: `${listing}; no usable cpu controller: VM CPU limits and weights are unavailable`,
      hint: 'Mount the cgroup v2 hierarchy at /sys/fs/cgroup (systemd.unified_cgroup_hierarchy=1), or the v1 cpu controller at /sys/fs/cgroup/cpu',
    };
  }
  return { ...base, status: 'pass', detail: `${listing}; Hangar uses v${driver.version} at ${driver.root}` };
}

async function checkHugepages(): Promise<CheckResult> {
  const base = { id: 'hugepages', title: 'QEMU: Checking for hugepages' };
  const meminfo = parseMeminfo((await readText('/proc/meminfo')) ?? '');
  const sizes: { kB: number; total: number; free: number }[] = [];
  for (const d of await listDir('/sys/kernel/mm/hugepages')) {
    const m = /^hugepages-(\d+)kB$/.exec(d);
    if (!m?.[1]) continue;
    const total = Number((await readText(`/sys/kernel/mm/hugepages/${d}/nr_hugepages`))?.trim() ?? 0);
    const free = Number((await readText(`/sys/kernel/mm/hugepages/${d}/free_hugepages`))?.trim() ?? 0);
    sizes.push({ kB: Number(m[1]), total, free });
  }
  sizes.sort((a, b) => a.kB - b.kB);
  const defaultKB = meminfo.get('Hugepagesize');
  if (sizes.length === 0 && defaultKB === undefined) {
    return { ...base, status: 'warn', detail: 'the kernel has no hugetlb support', hint: 'Hugepage-backed guest memory needs a kernel built with CONFIG_HUGETLBFS' };
  }
  const reserved = sizes.filter((s) => s.total > 0);
  const mounts = parseMounts((await readText('/proc/mounts')) ?? '').filter((m) => m.type === 'hugetlbfs').map((m) => m.target);
  const sizeList = sizes.map((s) => mib(s.kB)).join(', ');
  if (reserved.length === 0) {
    const per = defaultKB ? mib(defaultKB) : '2 MiB';
    return {
      ...base, status: 'warn',
      detail: `none reserved (HugePages_Total ${meminfo.get('HugePages_Total') ?? 0}; sizes available: ${sizeList || per})`,
      hint: `To back guest memory with hugepages, reserve some: echo N > /proc/sys/vm/nr_hugepages (N pages of ${per}), or hugepages=N on the kernel command line`,
    };
  }
  const detail = `${reserved.map((s) => `${mib(s.kB)}: ${s.total} reserved, ${s.free} free`).join('; ')}${mounts.length ? `; hugetlbfs at ${mounts.join(', ')}` : ''}`;
  if (mounts.length === 0) return { ...base, status: 'warn', detail: `${detail}; no hugetlbfs mounted`, hint: 'mount -t hugetlbfs hugetlbfs /dev/hugepages' };
  return { ...base, status: 'pass', detail };
}

async function checkIommu(): Promise<CheckResult> {
  const base = { id: 'iommu', title: 'QEMU: Checking for device assignment IOMMU support' };
  const units = await listDir('/sys/class/iommu');
  const groups = await listDir('/sys/kernel/iommu_groups');
  if (units.length > 0 || groups.length > 0) {
    return { ...base, status: 'pass', detail: `${groups.length} IOMMU group(s)${units.length ? `; units: ${units.join(', ')}` : ''}` };
  }
  return {
    ...base, status: 'warn', detail: 'no IOMMU: PCI passthrough unavailable',
    hint: 'Enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)',
  };
}

async function checkTool(tool: (typeof TOOLS)[number]): Promise<CheckResult> {
  const base = { id: `binary-${tool.name}`, title: `HANGAR: Checking for ${tool.name}` };
  const path = findProgram(tool.name);
  if (path) return { ...base, status: 'pass', detail: path };
  return { ...base, status: 'warn', detail: `${tool.name} not found: no ${tool.neededFor}`, hint: `apt-get install ${tool.pkg}` };
}

async function checkTinyImage(cacheDir: string): Promise<CheckResult> {
  const base = { id: 'tiny-image', title: 'HANGAR: Checking for the cached tiny image' };
  const manifestPath = join(cacheDir, 'images', 'tiny', 'manifest.json');
  const text = await readText(manifestPath);
  if (text === undefined) {
    return { ...base, status: 'warn', detail: `not built (${manifestPath} missing): --image tiny guests cannot be created`, hint: 'hangar image build tiny' };
  }
  let m: { kernel?: unknown; initrd?: unknown; kernelVersion?: unknown; builtAt?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return { ...base, status: 'warn', detail: `${manifestPath} is not valid JSON`, hint: 'hangar image build tiny --force' };
  }
  const files = [m.kernel, m.initrd].filter((f): f is string => typeof f === 'string');
  const missing: string[] = [];
  for (const f of files) if (!(await pathExists(f))) missing.push(f);
  if (files.length < 2 || missing.length > 0) {
    return { ...base, status: 'warn', detail: `manifest present but ${missing.length ? `missing ${missing.join(', ')}` : 'it names no kernel/initrd'}`, hint: 'hangar image build tiny --force' };
  }
  const built = typeof m.builtAt === 'string' ? `, built ${m.builtAt.slice(0, 10)}` : '';
  return { ...base, status: 'pass', detail: `kernel ${typeof m.kernelVersion === 'string' ? m.kernelVersion : '?'}${built}, ${join(cacheDir, 'images', 'tiny')}` };
}

async function checkCharDevice(id: string, title: string, path: string, missingWhat: string, hint: string): Promise<CheckResult> {
  const base = { id, title };
  let ok = false;
  try {
    ok = (await stat(path)).isCharacterDevice();
  } catch {
    return { ...base, status: 'warn', detail: `${path} missing: ${missingWhat}`, hint };
  }
  if (!ok) return { ...base, status: 'warn', detail: `${path} is not a character device: ${missingWhat}`, hint };
  if (!(await canReadWrite(path))) return { ...base, status: 'warn', detail: `${path} is not readable and writable by this user: ${missingWhat}`, hint: 'Run Hangar as root' };
  return { ...base, status: 'pass', detail: `${path} is a read-write character device` };
}

async function checkOvercommit(): Promise<CheckResult> {
  const base = { id: 'overcommit', title: 'QEMU: Checking the memory overcommit setting' };
  const mode = (await readText('/proc/sys/vm/overcommit_memory'))?.trim();
  switch (mode) {
    case '0':
      return { ...base, status: 'pass', detail: 'vm.overcommit_memory=0: heuristic overcommit' };
    case '1':
      return { ...base, status: 'pass', detail: 'vm.overcommit_memory=1: always overcommit' };
    case '2': {
      const ratio = (await readText('/proc/sys/vm/overcommit_ratio'))?.trim() ?? '?';
      return {
        ...base, status: 'warn', detail: `vm.overcommit_memory=2: strict accounting (overcommit_ratio ${ratio}%), guests whose memory does not fit the commit limit fail to start`,
        hint: 'sysctl vm.overcommit_memory=0 to allow overcommitting guest memory',
      };
    }
    default:
      return { ...base, status: 'warn', detail: '/proc/sys/vm/overcommit_memory unreadable', hint: 'Is /proc mounted?' };
  }
}

/** Runs every check (in parallel; the KVM probe bounds the time) and returns them in a fixed order. */
export async function runHostChecks(opts: HostCheckOptions = {}): Promise<CheckResult[]> {
  const qemuBinary = opts.qemuBinary ?? DEFAULT_QEMU;
  const timeoutMs = opts.kvmProbeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const cacheDir = opts.cacheDir ?? DEFAULT_CACHE_DIR;
  const qemuP = checkQemu(qemuBinary);
  const kvmDeviceP = checkKvmDevice(opts.kvmDevice ?? '/dev/kvm');
  const probeP = Promise.all([qemuP, kvmDeviceP]).then(([[, found], dev]) => checkKvmProbe(found, dev, timeoutMs, cacheDir, opts.probe ?? probeKvm));
  const [[qemu], qemuImg, kvmDevice, [kvmProbe], cgroups, hugepages, iommu, tiny, tun, vhost, overcommit, ...tools] = await Promise.all([
    qemuP,
    checkQemuImg(),
    kvmDeviceP,
    probeP,
    checkCgroups(),
    checkHugepages(),
    checkIommu(),
    checkTinyImage(cacheDir),
    checkCharDevice('tun', 'QEMU: Checking if device /dev/net/tun exists', '/dev/net/tun', 'guests cannot have tap NICs on managed networks', 'modprobe tun'),
    checkCharDevice('vhost-net', 'QEMU: Checking if device /dev/vhost-net exists', '/dev/vhost-net', 'no in-kernel virtio-net acceleration (vhost-net)', 'modprobe vhost_net'),
    checkOvercommit(),
    ...TOOLS.map((t) => checkTool(t)),
  ]);
  return [qemu, qemuImg, kvmDevice, kvmProbe, cgroups, hugepages, iommu, tun, vhost, overcommit, ...tools, tiny];
}

// --- output -------------------------------------------------------------------------------------

const INDENT = '      ';
const INLINE_DETAIL_MAX = 60;
const WRAP = 100;

function wrap(text: string, first: string, rest: string, width = WRAP): string[] {
  const lines: string[] = [];
  let line = first;
  let fresh = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (!fresh && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (fresh ? '' : ' ') + word;
    }
    fresh = false;
  }
  lines.push(line);
  return lines;
}

/**
 * virt-host-validate-style lines, titles padded with dots to one column:
 * `QEMU: Checking for the qemu binary ........ PASS (7.2.22, /usr/bin/qemu-system-x86_64)`.
 * A detail too long for the line goes on its own indented line(s); WARN and FAIL get their
 * hint indented below.
 */
export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(0, ...results.map((r) => r.title.length)) + 3;
  const out: string[] = [];
  for (const r of results) {
    const head = `${r.title} ${'.'.repeat(width - r.title.length)} ${r.status.toUpperCase()}`;
    const detail = r.detail.trim();
    if (detail && detail.length <= INLINE_DETAIL_MAX && !detail.includes('\n')) {
      out.push(`${head} (${detail})`);
    } else {
      out.push(head);
      if (detail) out.push(...wrap(detail, INDENT, INDENT));
    }
    if (r.status !== 'pass' && r.hint) out.push(...wrap(r.hint, `${INDENT}hint: `, `${INDENT}      `));
  }
  return out.join('\n');
}
