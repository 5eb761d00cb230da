/** Typing on a Hangar guest's serial console from a benchmark. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * Types a command on a Hangar guest's serial console through `hangar console --until` (as test/integration guestRun).
 * `--idle` is the whole timeout: the console also exits after that much silence, and dd prints nothing while it runs.
 */
export function hangarConsole(root: string, socket: string, vm: string, input: string, until: string, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'hangar'), '--socket', socket, 'console', vm, '--idle', String(timeoutMs), '--until', until], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0 && out.includes(until)) resolve(out);
      else reject(new Error(`hangar console ${vm} failed (exit ${code}): ${err.trim() || out.slice(-500)}`));
    });
    child.stdin.end(input);
  });
}
