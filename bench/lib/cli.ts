/** Timing a `hangar` CLI invocation end to end (node startup included). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface TimedRun {
  /** performance.now() just before spawn. */
  t0: number;
  /** ms from spawn until the process exited. */
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runHangarCli(root: string, args: readonly string[]): Promise<TimedRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'hangar'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - t0;
      resolve({ t0, ms, code, stdout, stderr });
    });
  });
}

/** Like runHangarCli but throws when the command fails. */
export async function hangarCli(root: string, args: readonly string[]): Promise<TimedRun> {
  const r = await runHangarCli(root, args);
  if (r.code !== 0) throw new Error(`hangar ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r;
}
