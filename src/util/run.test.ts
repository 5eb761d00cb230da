import { describe, expect, it } from 'vitest';
import { isHangarError } from '../errors/errors.js';
import { CommandError, describeExit, run, runChecked, succeeded } from './run.js';

describe('run', () => {
  it('gives the exit status and both outputs, with no shell in between', async () => {
    const r = await run('sh', ['-c', 'echo "$0"; echo oops >&2; exit 3', 'a; rm -rf /']);
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'a; rm -rf /\n', stderr: 'oops\n', timedOut: false, aborted: false });
    expect(succeeded(r)).toBe(false);
    expect(describeExit(r)).toBe('exit code 3');
  });

  it('feeds input on stdin and runs with LC_ALL=C by default', async () => {
    const r = await run('sh', ['-c', 'cat; echo "$LC_ALL"'], { input: 'hello\n' });
    expect(r.stdout).toBe('hello\nC\n');
    expect(succeeded(r)).toBe(true);
  });

  it('says a program is missing instead of throwing', async () => {
    const r = await run('/nonexistent/hangar-tool', []);
    expect(r.spawnError?.code).toBe('ENOENT');
    expect(describeExit(r)).toBe('not installed');
  });

  it('kills a program that runs past its timeout', async () => {
    const r = await run('sleep', ['10'], { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
    expect(r.elapsedMs).toBeLessThan(5000);
  });

  it('kills on abort, and keeps only the head of stdout and the tail of stderr', async () => {
    const ac = new AbortController();
    const pending = run('sh', ['-c', 'head -c 100000 /dev/zero | tr "\\0" x; head -c 100000 /dev/zero | tr "\\0" y >&2; exec sleep 10'], {
      signal: ac.signal, maxStdoutBytes: 10, maxStderrBytes: 5,
      onSpawn: () => setTimeout(() => ac.abort(), 300),
    });
    const r = await pending;
    expect(r.aborted).toBe(true);
    expect(r.stdout).toBe('x'.repeat(10));
    expect(r.stderr).toBe('y'.repeat(5));
  });

  it('does not wait for a child of the program that keeps the pipes open', async () => {
    const r = await run('sh', ['-c', 'sleep 2 & echo started']);
    expect(r.stdout).toBe('started\n');
    expect(r.elapsedMs).toBeLessThan(1500);
  });

  it('streams lines and keeps binary stdout as bytes', async () => {
    const lines: string[] = [];
    await run('printf', ['a\\nb\\r\\nc'], { onLine: (l, s) => lines.push(`${s}:${l}`) });
    expect(lines).toEqual(['stdout:a', 'stdout:b', 'stdout:c']);
    const bin = await run('printf', ['\\377\\000'], { encoding: 'buffer' });
    expect([...bin.stdout]).toEqual([0xff, 0]);
  });
});

describe('runChecked', () => {
  it('rejects with a CommandError, a HangarError with the code asked for', async () => {
    const e = await runChecked('sh', ['-c', 'echo first >&2; echo "it broke" >&2; exit 1'], { errorCode: 'STORAGE_FAILED' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CommandError);
    expect(isHangarError(e)).toBe(true);
    expect((e as CommandError).code).toBe('STORAGE_FAILED');
    expect((e as CommandError).message).toMatch(/failed \(exit code 1\): first\nit broke$/);
  });

  it('names the package of a missing program', async () => {
    const e = (await runChecked('/nonexistent/xorriso', [], { packageHint: 'Debian package xorriso' }).catch((x: unknown) => x)) as CommandError;
    expect(e.notFound).toBe(true);
    expect(e.message).toBe('/nonexistent/xorriso is not installed (Debian package xorriso)');
  });
});
