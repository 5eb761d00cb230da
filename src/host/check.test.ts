import { constants, existsSync, readFileSync } from 'node:fs';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type KvmProbeResult,
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
const TINY_MANIFEST = '/var/cache/hangar/images/tiny/manifest.json';

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

/** What this host really offers for KVM, found here without the code under test: the device, then (only if it opens) a probe. */
interface HostKvm {
  device: 'missing' | 'not-char' | 'no-access' | 'ok';
  probe?: KvmProbeResult;
}

async function hostKvm(timeoutMs: number): Promise<HostKvm> {
  let st;
  try {
    st = await stat('/dev/kvm');
  } catch {
    return { device: 'missing' };
  }
  if (!st.isCharacterDevice()) return { device: 'not-char' };
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { device: 'no-access' };
  }
  return { device: 'ok', probe: await probeKvm('qemu-system-x86_64', timeoutMs) };
}

/** A probe result for injection: the flat guest (and Linux) ran or not. */
function fakeProbe(over: { usable: boolean; defaultCpuOk?: boolean; linuxTried?: boolean; detail?: string }): KvmProbeResult {
  const flat = { ok: over.usable, cpuModel: 'qemu64', stage: over.usable ? 'done' : 'long', loopMillions: over.usable ? 100 : 3, qemuFailed: false, text: 'flat', elapsedMs: 50 } as const;
  return {
    usable: over.usable,
    detail: over.detail ?? (over.usable ? 'guest runs under KVM: fake' : 'KVM device present but a guest does not run on it (nested virtualization?): fake'),
    baseline: flat,
    defaultCpu: { ...flat, cpuModel: 'max', ok: over.defaultCpuOk ?? over.usable },
    linux: { tried: over.linuxTried ?? true, ok: over.usable, text: 'linux', elapsedMs: 50 },
    defaultCpuOk: over.defaultCpuOk ?? over.usable,
    pids: [],
    elapsedMs: 50,
  };
}

describe('the KVM checks, each branch (injected device and probe, so on any host)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-check-test-'));
    await writeFile(join(dir, 'kvm-file'), '');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (kvmDevice: string, probe?: KvmProbeResult): Promise<{ device: CheckResult; probe: CheckResult; probed: number }> => {
    let probed = 0;
    const results = await runHostChecks({
      kvmDevice,
      probe: async () => {
        probed++;
        if (!probe) throw new Error('the probe must not run here');
        return probe;
      },
    });
    const byId = (id: string): CheckResult => results.find((r) => r.id === id)!;
    return { device: byId('kvm-device'), probe: byId('kvm-probe'), probed };
  };

  it('no KVM device: both fail, the probe does not run, the hint says TCG', async () => {
    const r = await run(join(dir, 'no-such-kvm'));
    expect(r.device).toMatchObject({ status: 'fail', detail: expect.stringMatching(/does not exist: guests can only run under TCG/) });
    expect(r.device.hint).toMatch(/--accel tcg/);
    expect(r.probe).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^not probed: .* does not exist/) });
    expect(r.probe.hint).toMatch(/--accel tcg/);
    expect(r.probed).toBe(0);
  });

  it('a KVM path that is not a character device fails, unprobed', async () => {
    const r = await run(join(dir, 'kvm-file'));
    expect(r.device).toMatchObject({ status: 'fail', detail: expect.stringMatching(/is not a character device/) });
    expect(r.probe.detail).toMatch(/^not probed/);
    expect(r.probed).toBe(0);
  });

  // /dev/null stands for a KVM device that opens (a read-write char device on every host).
  it('device present but no guest runs on it (nested): the probe fails with the TCG hint', async () => {
    const r = await run('/dev/null', fakeProbe({ usable: false }));
    expect(r.device.status).toBe('pass');
    expect(r.probed).toBe(1);
    expect(r.probe).toMatchObject({ status: 'fail', detail: expect.stringMatching(/KVM device present but a guest does not run on it/) });
    expect(r.probe.hint).toMatch(/--accel tcg.*would pick KVM here/);
  });

  it('working KVM: pass', async () => {
    const r = await run('/dev/null', fakeProbe({ usable: true }));
    expect(r.probe).toMatchObject({ status: 'pass', detail: 'guest runs under KVM: fake' });
    expect(r.probe.hint).toBeUndefined();
  });

  it('working KVM but not with the default CPU model: warn, with a hint to pick qemu64', async () => {
    const r = await run('/dev/null', fakeProbe({ usable: true, defaultCpuOk: false }));
    expect(r.probe.status).toBe('warn');
    expect(r.probe.hint).toMatch(/--cpu-model qemu64/);
  });

  it('working KVM, tiny image not built (no Linux boot tried): warn, with a hint to build it', async () => {
    const r = await run('/dev/null', fakeProbe({ usable: true, linuxTried: false }));
    expect(r.probe.status).toBe('warn');
    expect(r.probe.hint).toMatch(/hangar image build tiny/);
  });
});

describe('on this host (real checks, compared with what the host really is)', () => {
  let results: CheckResult[];
  let host: HostKvm;
  let tookMs = 0;

  beforeAll(async () => {
    const t = performance.now();
    // The host's truth is found beside the checks (a probe of its own when /dev/kvm opens), in parallel.
    [results, host] = await Promise.all([
      runHostChecks({ kvmProbeTimeoutMs: 4000 }).then((r) => {
        tookMs = performance.now() - t;
        return r;
      }),
      hostKvm(4000),
    ]);
  }, 20_000);

  const byId = (id: string): CheckResult => {
    const r = results.find((x) => x.id === id);
    if (!r) throw new Error(`no check ${id}`);
    return r;
  };

  it('finds QEMU ≥ 7.0', () => {
    expect(byId('qemu').status).toBe('pass');
    expect(byId('qemu').detail).toMatch(/^\d+\.\d+/);
  });

  it('reports /dev/kvm as it is on this host', () => {
    const dev = byId('kvm-device');
    const expected = { missing: /does not exist/, 'not-char': /not a character device/, 'no-access': /not readable and writable/, ok: /read-write character device/ }[host.device];
    expect(dev.status).toBe(host.device === 'ok' ? 'pass' : 'fail');
    expect(dev.detail).toMatch(expected);
  });

  it('says whether a guest really runs under KVM here, as a probe of the test finds it', () => {
    const probe = byId('kvm-probe');
    expect(tookMs).toBeLessThan(4000 + 2000);
    if (host.device !== 'ok') {
      // No usable device (e.g. a fresh machine without /dev/kvm): nothing probed, TCG advised.
      expect(probe.status).toBe('fail');
      expect(probe.detail).toMatch(/^not probed: /);
      expect(probe.hint).toMatch(/--accel tcg/);
    } else if (!host.probe?.usable) {
      // KVM present but unusable (nested virtualization).
      expect(probe.status).toBe('fail');
      expect(probe.detail).toMatch(/KVM device present but a guest does not run on it/);
      expect(probe.hint).toMatch(/--accel tcg/);
    } else {
      // Working KVM.
      expect(['pass', 'warn']).toContain(probe.status);
      expect(probe.detail).toMatch(/^guest runs under KVM/);
    }
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
  it('answers within its timeout (+2 s), matches the host, and leaves no QEMU behind', async () => {
    const timeoutMs = 1500;
    const t = performance.now();
    const r = await probeKvm('qemu-system-x86_64', timeoutMs);
    const took = performance.now() - t;
    expect(took).toBeLessThan(timeoutMs + 2000);
    expect(r.pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of r.pids) expect(qemuGone(pid), `pid ${pid}`).toBe(true);
    if (!existsSync('/dev/kvm')) {
      expect(r.usable).toBe(false);
      expect(r.detail).toMatch(/^\/dev\/kvm does not exist, so no guest runs under KVM/);
    } else if (r.usable) {
      // Working KVM: the flat guest finished its loop.
      expect(r.baseline).toMatchObject({ ok: true, stage: 'done' });
      expect(r.detail).toMatch(/^guest runs under KVM/);
    } else {
      expect(r.detail).toMatch(/KVM device present but a guest does not run on it/);
    }
  }, 10_000);

  it('passes the very same guests under TCG (what a working accelerator looks like)', async () => {
    const r = await probeKvm('qemu-system-x86_64', 12_000, { accel: 'tcg' });
    expect(r.baseline).toMatchObject({ ok: true, stage: 'done', loopMillions: 100 });
    expect(r.defaultCpuOk).toBe(true);
    expect(r.usable).toBe(true);
    if (existsSync(TINY_MANIFEST)) {
      expect(r.linux).toMatchObject({ tried: true, ok: true });
      expect(r.detail).toMatch(/^guest runs under TCG: real → protected → long mode, then 100M loop iterations in \d+ ms; Linux .* booted past early boot/);
    } else {
      // A fresh machine before the tiny image is built: only the flat guest runs.
      expect(r.linux.tried).toBe(false);
      expect(r.detail).toMatch(/^guest runs under TCG: real → protected → long mode, then 100M loop iterations in \d+ ms; .*only the flat probe vouches/);
    }
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
