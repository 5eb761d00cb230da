/**
 * Host-side helpers for the debian-12 build: running programs in a clean environment (through
 * util/run.ts: argv arrays only, streamed output, a timeout), and unmounting whatever a killed debootstrap
 * left mounted under a directory before it is removed. (The lock file and the other
 * helpers shared with the tiny build are in ../build-common.ts.)
 */
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { runChecked, type RunOptions as ProgramRunOptions, type RunResult } from '../../util/run.js';

/** Proxy settings are passed through, so debootstrap reaches the mirror the way apt does. */
const PASSED_THROUGH = ['http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

/** The environment every build step runs with (nothing else from the caller leaks into the guest). */
export function buildEnv(extra: Record<string, string> = {}): Record<string, string> {
  const passed: Record<string, string> = {};
  for (const k of PASSED_THROUGH) {
    const v = process.env[k];
    if (v !== undefined && v !== '') passed[k] = v;
  }
  return {
    ...passed,
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    LANG: 'C',
    HOME: '/root',
    DEBIAN_FRONTEND: 'noninteractive',
    DEBCONF_NONINTERACTIVE_SEEN: 'true',
    ...extra,
  };
}

export type RunOptions = Pick<ProgramRunOptions, 'cwd' | 'timeoutMs' | 'input' | 'onLine'> & {
  /** Default: buildEnv(). */
  env?: Record<string, string>;
};

export type { RunResult };

/**
 * Runs `cmd` with `args` (no shell) in the build environment. Rejects with the tail of stderr
 * if it fails; a step past its timeout (default 10 min) gets SIGTERM, then SIGKILL 10 s later.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runChecked(cmd, args, {
    ...opts,
    env: opts.env ?? buildEnv(),
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    killGraceMs: 10_000,
    maxStdoutBytes: 64 * 1024 * 1024,
  });
}

/** True if `name` is an executable in the build PATH (or an absolute executable path). */
export async function haveProgram(name: string): Promise<boolean> {
  const dirs = name.includes('/') ? [''] : (buildEnv().PATH ?? '').split(':');
  for (const d of dirs) {
    try {
      await fs.access(d === '' ? name : path.join(d, name), fsConstants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Decode the octal escapes (\040 etc.) of /proc/self/mountinfo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` (deepest first). */
export async function mountsUnder(dir: string): Promise<string[]> {
  // mountinfo shows real paths: resolve symlinks in `dir` (e.g. a symlinked cache dir).
  const root = await fs.realpath(dir).catch(() => path.resolve(dir));
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (mp === undefined) continue;
    const p = unescapeMountPath(mp);
    if (p === root || p.startsWith(`${root}/`)) found.push(p);
  }
  return [...new Set(found)].sort((a, b) => b.length - a.length);
}

/**
 * Unmount everything below `dir` (debootstrap bind-mounts /dev nodes, /proc and /sys into
 * its target; if it is killed, they stay). Must run before removing a root filesystem tree,
 * or the removal would reach into the host's /dev.
 */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mps = await mountsUnder(dir);
    if (mps.length === 0) return;
    for (const mp of mps) {
      try {
        await run('umount', [mp], { timeoutMs: 60_000 });
      } catch {
        await run('umount', ['-l', mp], { timeoutMs: 60_000 }).catch(() => undefined);
      }
    }
  }
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`cannot unmount ${left.join(', ')}`);
}

/** Remove a tree that may contain a root filesystem: unmount below it first. */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  await fs.rm(dir, { recursive: true, force: true });
}
