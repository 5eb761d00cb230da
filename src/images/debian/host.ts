/**
 * Host-side helpers for the debian-12 build: running programs (argv arrays only, a clean
 * environment, streamed output, a timeout), and unmounting whatever a killed debootstrap
 * left mounted under a directory before it is removed. (The lock file and the other
 * helpers shared with the tiny build are in ../build-common.ts.)
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

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

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Called for each complete line of stdout and stderr (without the newline). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const MAX_STDOUT = 64 * 1024 * 1024;
const STDERR_TAIL = 64 * 1024;

/** Runs `cmd` with `args` (no shell). Rejects with the tail of stderr if it fails. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? buildEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const partial = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr', chunk: string): void => {
      if (stream === 'stdout') {
        if (stdout.length < MAX_STDOUT) stdout += chunk;
      } else {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      }
      if (!opts.onLine) return;
      const lines = (partial[stream] + chunk).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const l of lines) opts.onLine(l.replace(/\r$/, ''), stream);
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => feed('stdout', d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => feed('stderr', d));
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      if (opts.onLine) {
        for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') opts.onLine(partial[s], s);
      }
      if (code === 0 && !timedOut) {
        resolve({ stdout, stderr });
        return;
      }
      const why = timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : signal ? `killed by ${signal}` : `exit code ${code}`;
      const detail = stderr.trim().split('\n').slice(-8).join('\n');
      reject(new Error(`${cmd} ${args.join(' ')} failed (${why})${detail ? `:\n${detail}` : ''}`));
    });
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
