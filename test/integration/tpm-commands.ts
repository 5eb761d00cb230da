/**
 * A guest's vTPM driven from the test: raw TPM2 commands written to /dev/tpm0 from busybox
 * over the serial console (no tpm2-tools in the tiny image), and the swtpm processes a
 * daemon runs. Shared by tpm.test.ts and firmware-migration.test.ts.
 *
 * The commands use a password session with the empty owner auth, on NV index 0x01000001:
 * 8 bytes, owner/auth read+write, no dictionary-attack lockout. They are busybox printf
 * octal escapes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { guestRun, type TestDaemon } from './harness.js';

export const NV_INDEX = 0x01000001;

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
const PW_SESSION = [...u32(0x40000009), ...u16(0), 0, ...u16(0)];

/** A TPM2 command with one password session (empty auth), as printf escapes. */
export function tpmCommand(cc: number, handles: number[], params: number[]): string {
  const body = [...handles.flatMap(u32), ...u32(PW_SESSION.length), ...PW_SESSION, ...params];
  const bytes = [...u16(0x8002), ...u32(10 + body.length), ...u32(cc), ...body];
  return bytes.map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
}

const nvPublic = [...u32(NV_INDEX), ...u16(0x000b), ...u32(0x02060006), ...u16(0), ...u16(8)];
/** TPM2_NV_DefineSpace of the index (TPM_RC_NV_DEFINED, 0x14c, if it exists already). */
export const DEFINE = tpmCommand(0x12a, [0x40000001], [...u16(0), ...u16(nvPublic.length), ...nvPublic]);
/** TPM2_NV_Write of 8 bytes (the value padded or cut). */
export const write = (value: string): string => tpmCommand(0x137, [0x40000001, NV_INDEX], [...u16(8), ...Buffer.from(value.padEnd(8).slice(0, 8)), ...u16(0)]);
/** TPM2_NV_Read of the 8 bytes. */
export const READ = tpmCommand(0x14e, [0x40000001, NV_INDEX], [...u16(8), ...u16(0)]);

/** Sends raw TPM2 commands to /dev/tpm0 in guest `vm` of daemon `d`; returns each response as hex. */
export async function tpm(d: TestDaemon, vm: string, ...commands: string[]): Promise<string[]> {
  const fn = "tpmc() { exec 3<>/dev/tpm0; printf \"$1\" >&3; dd bs=4096 count=1 <&3 2>/dev/null | hexdump -v -e '/1 \"%02x\"'; echo; exec 3>&-; }";
  const out = await guestRun(d, vm, `${fn}; ${commands.map((c) => `tpmc '${c}'`).join('; ')}`, 1500);
  return out.split(/\r?\n/).map((l) => l.trim()).filter((l) => /^8001|^8002/.test(l));
}

/** A response's return code, as 8 hex digits ('00000000': success). */
export function rcOf(response: string): string {
  return response.slice(12, 20);
}

/** Runs commands and expects each to succeed. */
export async function tpmOk(d: TestDaemon, vm: string, ...commands: string[]): Promise<void> {
  const responses = await tpm(d, vm, ...commands);
  expect(responses.length, `responses to ${commands.length} commands: ${responses.join(' ')}`).toBe(commands.length);
  for (const r of responses) expect(rcOf(r), r).toBe('00000000');
}

/** The NV index's 8 bytes, as text. */
export async function readNv(d: TestDaemon, vm: string): Promise<string> {
  const [r] = await tpm(d, vm, READ);
  expect(r, 'a response to TPM2_NV_Read').toBeDefined();
  expect(rcOf(r!), r).toBe('00000000');
  // tag, size, rc, parameterSize (4), TPM2B size (2), then the data.
  return Buffer.from(r!.slice(32, 48), 'hex').toString();
}

/** Live swtpm processes with an argument under `dir` (a daemon's data dir, or a VM's state dir): pid → owner uid. */
export function swtpmsUnder(dir: string): Map<number, number> {
  const out = new Map<number, number>();
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (!/(^|\/)swtpm$/.test(argv[0] ?? '') || !argv.some((a) => a.includes(prefix)) || /^State:\s+Z/m.test(status)) continue;
      out.set(Number(entry), Number(/^Uid:\s+(\d+)/m.exec(status)![1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
