/**
 * The KVM probe behind `hangar host check`: does a guest really run under `-accel kvm` here?
 *
 * `/dev/kvm` opening is not enough. On nested hosts (a VM with a KVM device but no usable
 * hardware virtualization: no vmx/svm in its CPU flags) QEMU starts and the guest executes,
 * but thousands of times slower than native — measured on such a host: real-mode code runs,
 * even a switch to long mode completes, yet a plain `dec; jnz` loop does ~0.2-0.6 M
 * iterations/s, and the Debian kernel (bzImage) printed "Linux version" only after ~140 s and
 * was still in early boot at 200 s. To the user the guest hangs. So the probe checks speed and
 * a real kernel, not just "did an instruction run":
 *
 *  1. A flat 64 KiB `-bios` image generated here (see {@link probeBiosImage}): from the reset
 *     vector it copies itself to RAM, switches real → protected → long mode (GDT, CR0.PE,
 *     PAE paging, EFER.LME, CR0.PG), runs a 100 M-iteration loop, and exits QEMU through
 *     `isa-debug-exit` with status 99. Progress goes to the serial port (`R`, `P`, `L`, a `.`
 *     per million iterations, `D`), so a failure says how far the guest got and how fast.
 *     At one iteration per cycle, hardware-assisted KVM needs ~0.05 s; TCG took 0.6-3 s.
 *     Run twice: with `-cpu qemu64` (the baseline every KVM host can offer) and with Hangar's
 *     default CPU model `max` (= `host` under KVM), which some nested hosts reject outright.
 *  2. If the tiny image is cached, its kernel boots under KVM (`-cpu qemu64`, no initrd) with
 *     the serial console on a pipe, until it prints a line from past early boot (SMP bring-up);
 *     without an initrd it would go on to panic on the missing root fs and exit.
 *
 * All QEMUs run in parallel, each for at most `timeoutMs`, and each is killed by its pid
 * (SIGKILL) and reaped before the probe returns. Every spawn uses an argv array. Even if this
 * process died mid-probe they would end by themselves: the flat guest exits QEMU when its loop
 * is done, the kernel panics without a root fs and `-no-reboot` turns the reboot into an exit.
 */
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../util/run.js';

export const DEFAULT_CACHE_DIR = '/var/cache/hangar';

/** Where the probe code runs from after copying itself out of the ROM. */
const RAM_BASE = 0x7000;
const SERIAL = 0x3f8;
const DEBUG_EXIT_PORT = 0xf4;
/** Written to isa-debug-exit once the loop is done; QEMU then exits with (v << 1) | 1 = 99. */
const DONE_VALUE = 0x31;
export const PROBE_EXIT_STATUS = (DONE_VALUE << 1) | 1;
export const LOOP_OUTER = 100;
export const LOOP_INNER = 1_000_000;

/**
 * A tiny assembler: bytes plus labels, with absolute 32-bit/16-bit references patched once
 * every label is known. Enough for the probe; each instruction is written out with its
 * mnemonic (the encoding was checked against GNU as, see kvm-probe.test.ts).
 */
class Asm {
  private readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; add: number; size: 2 | 4 }[] = [];

  get here(): number {
    return this.bytes.length;
  }

  label(name: string): this {
    this.labels.set(name, this.bytes.length);
    return this;
  }

  /** Raw instruction bytes; the comment is documentation only. */
  op(_asm: string, ...bytes: number[]): this {
    this.bytes.push(...bytes);
    return this;
  }

  u16(v: number): this {
    this.bytes.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }

  u32(v: number): this {
    this.bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return this;
  }

  /** An absolute reference: the label's address once copied to RAM_BASE, plus `add`. */
  ref(label: string, size: 2 | 4, add = RAM_BASE): this {
    this.fixups.push({ at: this.bytes.length, label, add, size });
    this.bytes.push(...new Array<number>(size).fill(0));
    return this;
  }

  align(n: number): this {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
    return this;
  }

  /** Offset of a label, for the code itself (e.g. its own length). */
  offsetOf(name: string): number {
    const v = this.labels.get(name);
    if (v === undefined) throw new Error(`probe assembler: no label ${name}`);
    return v;
  }

  build(): Buffer {
    const out = Buffer.from(this.bytes);
    for (const f of this.fixups) {
      const v = this.offsetOf(f.label) + f.add;
      if (f.size === 2) out.writeUInt16LE(v, f.at);
      else out.writeUInt32LE(v, f.at);
    }
    return out;
  }
}

const lo = (v: number): number => v & 0xff;
const hi = (v: number): number => (v >>> 8) & 0xff;

/** The probe's code (position: offset 0 of the BIOS image, runs from RAM_BASE). */
export function probeCode(): Buffer {
  const a = new Asm();
  // --- 16-bit real mode, from the ROM (CS = 0xF000, base 0xFFFF0000) ---
  a.label('start16')
    .op('cli', 0xfa)
    .op('mov $0x3f8,%dx', 0xba, lo(SERIAL), hi(SERIAL))
    .op("mov $'R',%al", 0xb0, 0x52)
    .op('out %al,(%dx)', 0xee)
    .op('xor %ax,%ax', 0x31, 0xc0)
    .op('mov %ax,%es', 0x8e, 0xc0)
    .op('mov $RAM_BASE,%di', 0xbf, lo(RAM_BASE), hi(RAM_BASE))
    .op('xor %si,%si', 0x31, 0xf6)
    .op('mov $len,%cx', 0xb9).ref('end', 2, 0)
    .op('cs rep movsb', 0x2e, 0xf3, 0xa4)
    .op('mov %ax,%ds', 0x8e, 0xd8)
    .op('lgdtl (gdtr)', 0x66, 0x0f, 0x01, 0x16).ref('gdtr', 2)
    .op('mov %cr0,%eax', 0x0f, 0x20, 0xc0)
    .op('or $1,%al', 0x0c, 0x01)
    .op('mov %eax,%cr0', 0x0f, 0x22, 0xc0)
    .op('ljmpl $0x08,$pm32', 0x66, 0xea).ref('pm32', 4).u16(0x08);
  // --- 32-bit protected mode, in RAM ---
  a.label('pm32')
    .op('mov $0x10,%eax', 0xb8).u32(0x10)
    .op('mov %eax,%ds', 0x8e, 0xd8)
    .op('mov %eax,%es', 0x8e, 0xc0)
    .op('mov %eax,%ss', 0x8e, 0xd0)
    .op("mov $'P',%al", 0xb0, 0x50)
    .op('out %al,(%dx)', 0xee)
    .op('mov $0x1000,%edi', 0xbf).u32(0x1000)
    .op('xor %eax,%eax', 0x31, 0xc0)
    .op('mov $0xc00,%ecx', 0xb9).u32(0xc00)
    .op('rep stosl', 0xf3, 0xab)
    .op('movl $0x2003,0x1000 (PML4[0] -> PDPT)', 0xc7, 0x05).u32(0x1000).u32(0x2003)
    .op('movl $0x3003,0x2000 (PDPT[0] -> PD)', 0xc7, 0x05).u32(0x2000).u32(0x3003)
    .op('movl $0x83,0x3000 (PD[0]: 2 MiB page at 0)', 0xc7, 0x05).u32(0x3000).u32(0x83)
    .op('mov %cr4,%eax', 0x0f, 0x20, 0xe0)
    .op('or $0x20,%al (PAE)', 0x0c, 0x20)
    .op('mov %eax,%cr4', 0x0f, 0x22, 0xe0)
    .op('mov $0x1000,%eax', 0xb8).u32(0x1000)
    .op('mov %eax,%cr3', 0x0f, 0x22, 0xd8)
    .op('mov $0xc0000080,%ecx (EFER)', 0xb9).u32(0xc0000080)
    .op('rdmsr', 0x0f, 0x32)
    .op('or $1,%ah (LME)', 0x80, 0xcc, 0x01)
    .op('wrmsr', 0x0f, 0x30)
    .op('mov %cr0,%eax', 0x0f, 0x20, 0xc0)
    .op('or $0x80000000,%eax (PG)', 0x0d).u32(0x80000000)
    .op('mov %eax,%cr0', 0x0f, 0x22, 0xc0)
    .op('ljmp $0x18,$lm64', 0xea).ref('lm64', 4).u16(0x18);
  // --- 64-bit long mode ---
  a.label('lm64')
    .op('mov $0x3f8,%dx (rdmsr clobbered edx)', 0x66, 0xba, lo(SERIAL), hi(SERIAL))
    .op("mov $'L',%al", 0xb0, 0x4c)
    .op('out %al,(%dx)', 0xee)
    .op('mov $LOOP_OUTER,%ebx', 0xbb).u32(LOOP_OUTER);
  const outer = a.here;
  a.op('mov $LOOP_INNER,%ecx', 0xb9).u32(LOOP_INNER);
  const inner = a.here;
  a.op('dec %ecx', 0xff, 0xc9)
    .op('jnz inner', 0x75, (inner - (a.here + 2)) & 0xff)
    .op("mov $'.',%al", 0xb0, 0x2e)
    .op('out %al,(%dx)', 0xee)
    .op('dec %ebx', 0xff, 0xcb)
    .op('jnz outer', 0x75, (outer - (a.here + 2)) & 0xff)
    .op("mov $'D',%al", 0xb0, 0x44)
    .op('out %al,(%dx)', 0xee)
    .op('mov $DONE_VALUE,%al', 0xb0, DONE_VALUE)
    .op('out %al,$0xf4 (isa-debug-exit)', 0xe6, DEBUG_EXIT_PORT);
  const halt = a.here;
  a.op('hlt', 0xf4).op('jmp halt', 0xeb, (halt - (a.here + 2)) & 0xff);
  // --- GDT (accessed bits preset, so loading a descriptor never writes to it) ---
  a.align(8).label('gdt')
    .u32(0).u32(0)
    .u32(0x0000ffff).u32(0x00cf9b00) // 0x08: 32-bit code, base 0, 4 GiB
    .u32(0x0000ffff).u32(0x00cf9300) // 0x10: data, base 0, 4 GiB
    .u32(0x0000ffff).u32(0x00af9b00) // 0x18: 64-bit code
    .label('gdtr')
    .u16(4 * 8 - 1).ref('gdt', 4)
    .label('end');
  return a.build();
}

/** The 64 KiB flat BIOS image (`-bios`): the probe code at 0, `jmp start16` at the reset vector. */
export function probeBiosImage(): Buffer {
  const image = Buffer.alloc(0x10000);
  probeCode().copy(image, 0);
  // Reset: CS:IP = F000:FFF0. jmp rel16 to offset 0 (IP wraps at 64 KiB).
  image.set([0xe9, ...[lo(0x10000 - 0xfff3), hi(0x10000 - 0xfff3)]], 0xfff0);
  return image;
}

// ---------------------------------------------------------------------------------------------

interface QemuRun {
  /** Exit status, if QEMU exited by itself. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by us: timeout or done early. */
  killed: 'timeout' | 'done' | undefined;
  spawnError?: string;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/**
 * Runs QEMU with `argv` for at most `timeoutMs`. `watch` sees the growing stdout (the serial
 * console) and returns true to stop early. Always ends with the process killed by pid and reaped.
 */
async function runQemu(
  binary: string,
  argv: string[],
  timeoutMs: number,
  watch: (stdout: string, elapsedMs: number) => boolean,
  onPid: (pid: number) => void,
): Promise<QemuRun> {
  const started = performance.now();
  const done = new AbortController();
  let stdout = '';
  const r = await run(binary, argv, {
    timeoutMs,
    signal: done.signal,
    // The serial console is bytes, not text.
    encoding: 'latin1',
    maxStdoutBytes: 0,
    onSpawn: onPid,
    onStdout: (chunk) => {
      stdout += chunk;
      if (stdout.length > 1_000_000) stdout = stdout.slice(-500_000);
      if (!done.signal.aborted && watch(stdout, performance.now() - started)) done.abort();
    },
  });
  return {
    code: r.code, signal: r.signal, killed: r.timedOut ? 'timeout' : r.aborted ? 'done' : undefined,
    ...(r.spawnError && { spawnError: r.spawnError.message }), stdout, stderr: r.stderr, elapsedMs: r.elapsedMs,
  };
}

/** The line of QEMU's stderr that says what went wrong (warnings about CPUID bits skipped). */
function qemuError(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/warning:/i.test(l));
  const line = lines.find((l) => /error|failed|could not|cannot/i.test(l)) ?? lines[lines.length - 1];
  return line?.replace(/^qemu-system-[\w-]+:\s*/, '');
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function exitedEarly(run: QemuRun): string {
  if (run.spawnError) return `QEMU could not be started: ${run.spawnError}`;
  const how = run.signal ? `was killed by ${run.signal}${run.signal === 'SIGABRT' ? ' (aborted)' : ''}` : `exited with status ${String(run.code)}`;
  const why = qemuError(run.stderr);
  return `QEMU ${how} after ${Math.round(run.elapsedMs)} ms${why ? `: ${why}` : ''}`;
}

export interface FlatProbeOutcome {
  ok: boolean;
  cpuModel: string;
  /** Furthest stage the guest reached. */
  stage: 'none' | 'real' | 'protected' | 'long' | 'done';
  /** Millions of loop iterations done. */
  loopMillions: number;
  /** Time from entering long mode to the end of the loop (or the kill). */
  loopMs?: number;
  /** QEMU failed on its own (not a timeout). */
  qemuFailed: boolean;
  text: string;
  elapsedMs: number;
}

async function flatProbe(qemuBinary: string, accel: string, bios: string, cpuModel: string, timeoutMs: number, onPid: (pid: number) => void): Promise<FlatProbeOutcome> {
  let longAt: number | undefined;
  let doneAt: number | undefined;
  const run = await runQemu(
    qemuBinary,
    [
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-machine', 'pc', '-accel', accel, '-cpu', cpuModel, '-smp', '1', '-m', '16',
      '-bios', bios,
      '-serial', 'stdio',
      '-device', `isa-debug-exit,iobase=0x${DEBUG_EXIT_PORT.toString(16)},iosize=0x04`,
    ],
    timeoutMs,
    (out, t) => {
      if (longAt === undefined && out.includes('L')) longAt = t;
      if (doneAt === undefined && out.includes('D')) doneAt = t;
      return false; // it exits by itself through isa-debug-exit
    },
    onPid,
  );
  const out = run.stdout;
  const loopMillions = (out.match(/\./g) ?? []).length;
  const stage: FlatProbeOutcome['stage'] = out.includes('D') ? 'done' : out.includes('L') ? 'long' : out.includes('P') ? 'protected' : out.includes('R') ? 'real' : 'none';
  const base = { cpuModel, stage, loopMillions, elapsedMs: run.elapsedMs };
  const loopEnd = doneAt ?? run.elapsedMs;
  const loopMs = longAt !== undefined ? Math.max(0, loopEnd - longAt) : undefined;
  const total = LOOP_OUTER * LOOP_INNER / 1e6;
  if (stage === 'done' && run.code === PROBE_EXIT_STATUS) {
    return { ...base, ok: true, loopMs, qemuFailed: false, text: `real → protected → long mode, then ${total}M loop iterations in ${Math.round(loopMs ?? 0)} ms` };
  }
  if (run.killed !== 'timeout') {
    return { ...base, ok: false, loopMs, qemuFailed: true, text: exitedEarly(run) };
  }
  const limit = secs(timeoutMs);
  let text: string;
  switch (stage) {
    case 'none':
      text = `no guest instruction ran in ${limit} (nothing from the reset vector)`;
      break;
    case 'real':
      text = `real-mode code ran, but the switch to protected mode did not finish in ${limit}`;
      break;
    case 'protected':
      text = `protected mode reached, but the switch to long mode did not finish in ${limit}`;
      break;
    default: {
      const loopS = Math.max(0.001, (loopMs ?? 0) / 1000);
      const rate = (n: number): string => (n < 10 ? n.toFixed(2) : String(Math.round(n)));
      const done = loopMillions === 0
        ? `not even the first 1M of ${total}M loop iterations finished in ${secs(loopS * 1000)} (<${rate(1 / loopS)}M/s`
        : `only ${loopMillions}M of ${total}M loop iterations ran in ${secs(loopS * 1000)} (≈${rate(loopMillions / loopS)}M/s`;
      text = `long mode reached after ${Math.round(longAt ?? 0)} ms, but ${done}; a working KVM does >1000M/s): guest code runs far too slowly`;
    }
  }
  return { ...base, ok: false, loopMs, qemuFailed: false, text };
}

export interface LinuxProbeOutcome {
  tried: boolean;
  ok: boolean;
  kernel?: string;
  kernelVersion?: string;
  text: string;
  /** Time until the milestone (ok) or until the kill. */
  elapsedMs: number;
}

/** Lines a kernel prints only once it is past early boot (in boot order). */
const PAST_EARLY_BOOT = /Freeing SMP alternatives memory|smpboot: CPU0: |Run \/init as init process|Freeing unused kernel|VFS: Unable to mount root fs/;

interface TinyManifest {
  kernel?: unknown;
  kernelVersion?: unknown;
}

/** The tiny image's kernel, from `<cacheDir>/images/tiny/manifest.json`; undefined if not built. */
export async function tinyKernel(cacheDir: string): Promise<{ kernel: string; version?: string } | undefined> {
  try {
    const m = JSON.parse(await readFile(join(cacheDir, 'images', 'tiny', 'manifest.json'), 'utf8')) as TinyManifest;
    if (typeof m.kernel !== 'string') return undefined;
    await access(m.kernel, constants.R_OK);
    return { kernel: m.kernel, version: typeof m.kernelVersion === 'string' ? m.kernelVersion : undefined };
  } catch {
    return undefined;
  }
}

async function linuxProbe(qemuBinary: string, accel: string, kernel: { kernel: string; version?: string } | undefined, timeoutMs: number, onPid: (pid: number) => void): Promise<LinuxProbeOutcome> {
  if (!kernel) return { tried: false, ok: false, text: 'no Linux boot tried: the tiny image is not built', elapsedMs: 0 };
  let startedAt: number | undefined;
  let milestoneAt: number | undefined;
  let milestone: string | undefined;
  const run = await runQemu(
    qemuBinary,
    [
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-machine', 'pc', '-accel', accel, '-cpu', 'qemu64', '-smp', '1', '-m', '128',
      '-kernel', kernel.kernel,
      '-append', 'console=ttyS0 earlyprintk=ttyS0 loglevel=7 panic=-1',
      '-serial', 'stdio',
    ],
    timeoutMs,
    (out, t) => {
      if (startedAt === undefined && out.includes('Linux version')) startedAt = t;
      const m = PAST_EARLY_BOOT.exec(out);
      if (m) {
        milestoneAt = t;
        milestone = m[0].trim();
        return true;
      }
      return false;
    },
    onPid,
  );
  const name = `Linux ${kernel.version ?? ''}`.trim();
  const base = { tried: true, kernel: kernel.kernel, kernelVersion: kernel.version };
  if (milestone !== undefined) {
    return { ...base, ok: true, elapsedMs: milestoneAt ?? run.elapsedMs, text: `${name} booted past early boot ("${milestone}") in ${Math.round(milestoneAt ?? 0)} ms` };
  }
  if (run.killed !== 'timeout') return { ...base, ok: false, elapsedMs: run.elapsedMs, text: `${name}: ${exitedEarly(run)}` };
  const lines = run.stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1];
  const text = startedAt === undefined
    ? `${name} printed nothing in ${secs(timeoutMs)} (stuck before "Linux version")`
    : `${name} started (at ${secs(startedAt)}) but was still in early boot after ${secs(timeoutMs)}${last ? ` (last: "${last.slice(0, 80)}")` : ''}`;
  return { ...base, ok: false, elapsedMs: run.elapsedMs, text };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** What /proc/cpuinfo says about hardware virtualization, as evidence for a nested host. */
export async function cpuVirtualization(cpuinfo?: string): Promise<string | undefined> {
  const info = cpuinfo ?? await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const flags = /^flags\s*:\s*(.*)$/m.exec(info)?.[1]?.split(/\s+/);
  if (!flags) return undefined;
  const hw = flags.includes('vmx') ? 'vmx' : flags.includes('svm') ? 'svm' : undefined;
  const underHypervisor = flags.includes('hypervisor');
  if (!hw && underHypervisor) return 'this host is itself a VM: its CPU has the hypervisor flag and no vmx/svm';
  if (!hw) return 'the CPU shows no vmx/svm flag';
  return underHypervisor ? `this host is itself a VM (nested ${hw})` : undefined;
}

export interface KvmProbeResult {
  /** A guest runs at hardware speed under KVM and (when the tiny kernel is cached) Linux boots. */
  usable: boolean;
  detail: string;
  /** The flat probe with `-cpu qemu64`. */
  baseline: FlatProbeOutcome;
  /** The flat probe with Hangar's default CPU model. */
  defaultCpu: FlatProbeOutcome;
  linux: LinuxProbeOutcome;
  /** Whether Hangar's default CPU model (max) runs under KVM too. */
  defaultCpuOk: boolean;
  /** pids of every QEMU the probe started (all killed and reaped on return). */
  pids: number[];
  elapsedMs: number;
}

export interface KvmProbeOptions {
  /** Where the tiny image lives (`<cacheDir>/images/tiny`); default /var/cache/hangar. */
  cacheDir?: string;
  /** The CPU model Hangar gives guests by default; default `max`. */
  defaultCpuModel?: string;
  /**
   * Default `kvm`, the point of the probe. `tcg` runs the very same guests in software: the
   * tests use it to see the probe pass (and what a pass reports) on hosts without working KVM.
   */
  accel?: 'kvm' | 'tcg';
}

/**
 * Boots tiny guests under `-accel kvm` (see the file comment) and says whether a guest really
 * runs. Takes at most about `timeoutMs` (all probes run in parallel); never leaves a QEMU behind.
 */
export async function probeKvm(qemuBinary: string, timeoutMs: number, opts: KvmProbeOptions = {}): Promise<KvmProbeResult> {
  const started = performance.now();
  const pids: number[] = [];
  const onPid = (pid: number): void => {
    pids.push(pid);
  };
  const dir = await mkdtemp(join(tmpdir(), 'hangar-kvm-probe-'));
  try {
    const bios = join(dir, 'probe-bios.bin');
    await writeFile(bios, probeBiosImage());
    const kernel = await tinyKernel(opts.cacheDir ?? DEFAULT_CACHE_DIR);
    const defaultModel = opts.defaultCpuModel ?? 'max';
    const accel = opts.accel ?? 'kvm';
    const [baseline, defaultCpu, linux] = await Promise.all([
      flatProbe(qemuBinary, accel, bios, 'qemu64', timeoutMs, onPid),
      defaultModel === 'qemu64' ? undefined : flatProbe(qemuBinary, accel, bios, defaultModel, timeoutMs, onPid),
      linuxProbe(qemuBinary, accel, kernel, timeoutMs, onPid),
    ]);
    const dflt = defaultCpu ?? baseline;
    const usable = baseline.ok && (linux.ok || !linux.tried);
    const parts: string[] = [];
    if (usable) {
      parts.push(`guest runs under ${accel.toUpperCase()}: ${baseline.text}`);
      parts.push(linux.tried ? linux.text : `${linux.text}, so only the flat probe vouches for KVM`);
      if (!dflt.ok) parts.push(`but with -cpu ${defaultModel} (Hangar's default CPU model): ${dflt.text}`);
    } else if (accel === 'kvm' && !(await exists('/dev/kvm'))) {
      // Called without the device check first (`host check` does that one): no device, no nesting question.
      parts.push(`/dev/kvm does not exist, so no guest runs under KVM: ${baseline.text}`);
    } else {
      const cpu = await cpuVirtualization();
      parts.push(`KVM device present but a guest does not run on it (nested virtualization?${cpu ? ` ${cpu}` : ''}): ${baseline.text}`);
      if (linux.tried) parts.push(linux.text);
      if (defaultCpu && defaultCpu.qemuFailed) parts.push(`with -cpu ${defaultModel} (Hangar's default CPU model): ${defaultCpu.text}`);
    }
    return { usable, detail: parts.join('; '), baseline, defaultCpu: dflt, linux, defaultCpuOk: dflt.ok, pids, elapsedMs: performance.now() - started };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
