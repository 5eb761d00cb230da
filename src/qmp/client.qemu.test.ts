/** Against a real QEMU monitor: skipped only where qemu-system-x86_64 is not installed. */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QmpClient, QmpClosedError, type QmpEvent } from './index.js';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const qemu = onPath('qemu-system-x86_64');

describe.skipIf(!qemu)('QmpClient against qemu-system-x86_64', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterAll(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('handshakes, runs queries, sees events, and quits', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hangar-qmp-qemu-'));
    const sock = join(dir, 'qmp.sock');
    const argv = ['-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`];
    child = spawn(qemu!, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    // QEMU creates the socket a moment after spawn: connect() must wait for it.
    const client = await QmpClient.connect(sock, { retryUntilMs: 10_000 }).catch((err: unknown) => {
      throw new Error(`connect failed: ${String(err)}; qemu stderr: ${stderr}`);
    });
    expect(client.greeting.QMP.version).toMatchObject({ qemu: { major: expect.any(Number) } });

    await expect(client.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch', running: false });
    const version = await client.execute<{ qemu: { major: number; minor: number } }>('query-version');
    expect(version.qemu.major).toBeGreaterThanOrEqual(7);

    const resumed = new Promise<QmpEvent>((resolve) => client.onEvent((e) => e.event === 'RESUME' && resolve(e)));
    await client.execute('cont');
    expect(await resumed).toMatchObject({ event: 'RESUME', timestamp: { seconds: expect.any(Number) } });
    await expect(client.execute('query-status')).resolves.toMatchObject({ running: true });

    await expect(client.execute('no-such-command')).rejects.toMatchObject({ errorClass: 'CommandNotFound' });

    // QEMU may close the socket before or after the reply to quit reaches us; both are fine.
    const closed = new Promise<void>((resolve) => client.onClose(() => resolve()));
    await client.execute('quit').catch((err: unknown) => expect(err).toBeInstanceOf(QmpClosedError));
    await closed;
    expect(client.closed).toBe(true);
    expect(await exited).toBe(0);
  }, 20_000);
});
