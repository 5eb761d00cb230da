import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cgroupControllers,
  compareVersions,
  formatChecks,
  parseMeminfo,
  parseMounts,
  probeBiosImage,
  probeKvm,
  runHostChecks,
  type CheckResult,
} from './check.js';
import { cpuVirtualization, LOOP_INNER, LOOP_OUTER, probeCode } from './kvm-probe.js';

/**
 * GNU as output for the probe (as --64 + ld --oformat=binary -Ttext=0), with the .p2align 3
 * padding before the GDT as zeros instead of a NOP. The source is the listing in kvm-probe.ts.
 */
const GOLDEN_CODE =
  'fabaf803b052ee31c08ec0bf007031f6b9e6002ef3a48ed8660f0116e0700f20c00c010f22c066ea2e7000000800'
  + 'b8100000008ed88ec08ed0b050eebf0010000031c0b9000c0000f3abc7050010000003200000c705002000000330'
  + '0000c70500300000830000000f20e00c200f22e0b8001000000f22d8b9800000c00f3280cc010f300f20c00d0000'
  + '00800f22c0ea96700000180066baf803b04ceebb64000000b940420f00ffc975fcb02eeeffcb75f0b044eeb031e6'
  + 'f4f4ebfd000000000000000000000000ffff0000009bcf00ffff00000093cf00ffff0000009baf001f00c0700000';

const STATUSES = ['pass', 'warn', 'fail'];

/** True if `pid` is no longer a QEMU process (gone, or reused by something else). */
function qemuGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  return !cmdline.includes('qemu-system');
}

describe('the probe guest', () => {
  it('assembles to what GNU as produces', () => {
    expect(probeCode().toString('hex')).toBe(GOLDEN_CODE);
    expect(LOOP_OUTER * LOOP_INNER).toBe(100_000_000);
  });

  it('is a 64 KiB flat BIOS whose reset vector jumps to the code at offset 0', () => {
    const image = probeBiosImage();
    expect(image.length).toBe(0x10000);
    expect([...image.subarray(0xfff0, 0xfff3)]).toEqual([0xe9, 0x0d, 0x00]); // jmp rel16 → 0xfff3 + 0x0d = 0x10000 ≡ 0
    expect(image.subarray(0, probeCode().length).equals(probeCode())).toBe(true);
  });
});

describe('parsers', () => {
  it('reads /proc/meminfo', () => {
    const m = parseMeminfo('MemTotal:       16384000 kB\nHugePages_Total:     512\nHugePages_Free:      500\nHugepagesize:       2048 kB\n');
    expect(m.get('HugePages_Total')).toBe(512);
    expect(m.get('HugePages_Free')).toBe(500);
    expect(m.get('Hugepagesize')).toBe(2048);
  });

  it('finds cgroup controllers in v1, hybrid and v2 layouts', () => {
    const hybrid = parseMounts([
      'cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0',
      'cgroup /sys/fs/cgroup/systemd cgroup rw,xattr,name=systemd 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0',
      'proc /proc proc rw 0 0',
    ].join('\n'));
    const h = cgroupControllers(hybrid, new Map([['/sys/fs/cgroup/unified', '']]));
    expect([...h.v1.keys()].sort()).toEqual(['cpu', 'cpuacct', 'memory']);
    expect(h.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(h.v2.get('/sys/fs/cgroup/unified')).toEqual([]);

    const v2 = cgroupControllers(parseMounts('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n'), new Map([['/sys/fs/cgroup', 'cpuset cpu io memory pids\n']]));
    expect(v2.v1.size).toBe(0);
    expect(v2.v2.get('/sys/fs/cgroup')).toEqual(['cpuset', 'cpu', 'io', 'memory', 'pids']);
  });

  it('decodes octal escapes in mount points', () => {
    expect(parseMounts('none /mnt/a\\040b hugetlbfs rw 0 0')[0]?.target).toBe('/mnt/a b');
  });

  it('compares versions', () => {
    expect(compareVersions('7.2.22', [7, 0])).toBeGreaterThan(0);
    expect(compareVersions('7.0', [7, 0])).toBe(0);
    expect(compareVersions('6.2.0', [7, 0])).toBeLessThan(0);
  });

  it('recognises a nested host from the CPU flags', async () => {
    expect(await cpuVirtualization('flags\t\t: fpu vme sse2 hypervisor lm\n')).toMatch(/itself a VM.*no vmx\/svm/);
    expect(await cpuVirtualization('flags\t\t: fpu vmx lm\n')).toBeUndefined();
    expect(await cpuVirtualization('flags\t\t: fpu svm hypervisor\n')).toMatch(/nested svm/);
  });
});

describe('formatChecks', () => {
  const results: CheckResult[] = [
    { id: 'qemu', title: 'QEMU: Checking for the qemu binary', status: 'pass', detail: '7.2.22' },
    { id: 'iommu', title: 'QEMU: Checking for device assignment IOMMU support', status: 'warn', detail: 'no IOMMU: PCI passthrough unavailable', hint: 'boot with intel_iommu=on' },
    { id: 'kvm-probe', title: 'QEMU: Checking if a guest really runs under KVM', status: 'fail', detail: 'x'.repeat(30) + ' ' + 'y'.repeat(40), hint: 'set --accel tcg' },
    { id: 'x', title: 'HANGAR: short', status: 'pass', detail: 'ok', hint: 'never shown for a pass' },
  ];
  const text = formatChecks(results);
  const lines = text.split('\n');

  it('puts a short detail in parentheses after the status, like virt-host-validate', () => {
    expect(lines[0]).toMatch(/^QEMU: Checking for the qemu binary \.+ PASS \(7\.2\.22\)$/);
    expect(lines).toContain('HANGAR: short ' + '.'.repeat(lines[0]!.indexOf(' PASS') - 'HANGAR: short '.length) + ' PASS (ok)');
  });

  it('aligns every status in one column', () => {
    const heads = lines.filter((l) => /^\S/.test(l));
    expect(heads).toHaveLength(results.length);
    const cols = heads.map((l) => l.search(/ (PASS|WARN|FAIL)\b/));
    expect(new Set(cols).size).toBe(1);
  });

  it('indents hints below WARN and FAIL lines only; long details go below too', () => {
    const warn = lines.findIndex((l) => l.includes('WARN'));
    expect(lines[warn]).toMatch(/WARN \(no IOMMU: PCI passthrough unavailable\)$/);
    expect(lines[warn + 1]).toBe('      hint: boot with intel_iommu=on');
    const fail = lines.findIndex((l) => l.includes('FAIL'));
    expect(lines[fail]).toMatch(/ FAIL$/);
    expect(lines[fail + 1]).toBe(`      ${'x'.repeat(30)} ${'y'.repeat(40)}`);
    expect(lines[fail + 2]).toBe('      hint: set --accel tcg');
    expect(text).not.toContain('never shown');
  });
});

describe('on this host (real checks)', () => {
  let results: CheckResult[];
  let tookMs = 0;

  beforeAll(async () => {
    const t = performance.now();
    results = await runHostChecks({ kvmProbeTimeoutMs: 4000 });
    tookMs = performance.now() - t;
  }, 15_000);

  const byId = (id: string): CheckResult => {
    const r = results.find((x) => x.id === id);
    if (!r) throw new Error(`no check ${id}`);
    return r;
  };

  it('finds QEMU ≥ 7.0 and an accessible /dev/kvm', () => {
    expect(byId('qemu').status).toBe('pass');
    expect(byId('qemu').detail).toMatch(/^\d+\.\d+/);
    expect(byId('kvm-device').status).toBe('pass');
  });

  it('finds that no guest really runs under KVM here (nested virtualization)', () => {
    const probe = byId('kvm-probe');
    expect(probe.status).not.toBe('pass');
    expect(probe.detail).toMatch(/KVM device present but a guest does not run on it/);
    expect(probe.hint).toMatch(/--accel tcg/);
    expect(tookMs).toBeLessThan(4000 + 2000);
  });

  it('gives every check a status and a detail, and every WARN/FAIL a hint', () => {
    const ids = results.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['qemu', 'qemu-img', 'kvm-device', 'kvm-probe', 'cgroups', 'hugepages', 'iommu', 'tun', 'vhost-net', 'overcommit',
      'binary-xorriso', 'binary-dnsmasq', 'binary-ip', 'binary-nft', 'tiny-image']) {
      expect(ids).toContain(id);
    }
    for (const r of results) {
      expect(STATUSES).toContain(r.status);
      expect(r.title.trim()).not.toBe('');
      expect(r.detail.trim()).not.toBe('');
      if (r.status !== 'pass') expect(r.hint?.trim(), r.id).toBeTruthy();
    }
  });

  it('renders one aligned line per check', () => {
    const heads = formatChecks(results).split('\n').filter((l) => /^\S/.test(l));
    expect(heads).toHaveLength(results.length);
    expect(heads[0]).toMatch(/^QEMU: Checking for the qemu binary \.+ PASS \(\d+\.\d+/);
  });
});

describe('probeKvm', () => {
  it('answers within its timeout (+2 s) and leaves no QEMU behind', async () => {
    const timeoutMs = 1500;
    const t = performance.now();
    const r = await probeKvm('qemu-system-x86_64', timeoutMs);
    const took = performance.now() - t;
    expect(took).toBeLessThan(timeoutMs + 2000);
    expect(r.usable).toBe(false);
    expect(r.detail).toMatch(/does not run on it/);
    expect(r.pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of r.pids) expect(qemuGone(pid), `pid ${pid}`).toBe(true);
  }, 10_000);

  it('passes the very same guests under TCG (what a working accelerator looks like)', async () => {
    const r = await probeKvm('qemu-system-x86_64', 12_000, { accel: 'tcg' });
    expect(r.baseline).toMatchObject({ ok: true, stage: 'done', loopMillions: 100 });
    expect(r.defaultCpuOk).toBe(true);
    expect(r.linux).toMatchObject({ tried: true, ok: true });
    expect(r.usable).toBe(true);
    expect(r.detail).toMatch(/^guest runs under TCG: real → protected → long mode, then 100M loop iterations in \d+ ms; Linux .* booted past early boot/);
    for (const pid of r.pids) expect(qemuGone(pid), `pid ${pid}`).toBe(true);
  }, 20_000);

  it('reports a QEMU that cannot be started, at once', async () => {
    const r = await probeKvm('/nonexistent/qemu-system-x86_64', 5000);
    expect(r.usable).toBe(false);
    expect(r.baseline.qemuFailed).toBe(true);
    expect(r.detail).toMatch(/could not be started/);
    expect(r.elapsedMs).toBeLessThan(2000);
  });

  it('turns a missing QEMU into failed checks with hints', async () => {
    const results = await runHostChecks({ qemuBinary: '/nonexistent/qemu-system-x86_64' });
    const qemu = results.find((r) => r.id === 'qemu');
    const probe = results.find((r) => r.id === 'kvm-probe');
    expect(qemu?.status).toBe('fail');
    expect(qemu?.hint).toMatch(/apt-get install qemu-system-x86/);
    expect(probe?.status).toBe('fail');
    expect(probe?.detail).toMatch(/not probed/);
  });
});
