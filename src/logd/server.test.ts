import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readProcStat } from '../util/proc.js';
import { readLogChunk } from './read.js';
import { LogServer } from './server.js';

let dir: string;
const servers: LogServer[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-logd-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function server(): Promise<LogServer> {
  const s = new LogServer({ socket: join(dir, 'logd.sock'), watchesFile: join(dir, 'watches.json'), limits: { maxSize: 1000, maxBackups: 1 }, log: () => undefined, ownerCheckMs: 50 });
  await s.start();
  servers.push(s);
  return s;
}

const until = async (what: string, fn: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const text = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');

it('reads a FIFO into a capped log, survives its own restart (the writer keeps its fd)', async () => {
  const fifo = join(dir, 'serial.fifo');
  const log = join(dir, 'serial.log');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  const first = await server();
  expect(first.handle({ op: 'watch', watch: { id: 'vm1', streams: [{ fifo, log }] } })).toEqual({ ok: true });
  // QEMU's side: opened for writing without blocking (a reader exists).
  const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(w, 'one\n');
    await until('the first line', () => text(log) === 'one\n');
    // logd goes away: the writer's fd stays valid, its writes fail (EPIPE) instead of blocking.
    await first.stop();
    servers.splice(0);
    expect(() => writeSync(w, 'lost\n')).toThrow(/EPIPE/);
    // A new logd reopens the remembered FIFO: the same fd is read again.
    await server();
    writeSync(w, 'two\n');
    await until('the line after the restart', () => text(log) === 'one\ntwo\n');
    // Far more than the cap: one backup kept, each file within 1000 bytes.
    for (let i = 0; i < 50; i++) writeSync(w, `${'x'.repeat(99)}\n`);
    writeSync(w, 'END\n');
    await until('the last line', () => text(log).endsWith('END\n'));
    expect(text(`${log}.1`)).toBe(`${'x'.repeat(99)}\n`.repeat(10));
    expect(text(log).length).toBeLessThanOrEqual(1000);
    expect(text(`${log}.1`).length).toBeLessThanOrEqual(1000);
    expect(existsSync(`${log}.2`)).toBe(false);
  } finally {
    closeSync(w);
  }
});

it('drains and removes the FIFOs of a watch whose owner has ended', async () => {
  const fifo = join(dir, 'qemu.fifo');
  const log = join(dir, 'qemu.log');
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
  const s = await server();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const owner = { pid: child.pid!, startTime: readProcStat(child.pid!)!.startTime };
  s.handle({ op: 'watch', watch: { id: 'vm2', streams: [{ fifo, log }] } });
  expect(s.handle({ op: 'owner', id: 'vm2', owner })).toEqual({ ok: true });
  const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(w, 'last words\n');
  closeSync(w);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await until('the watch to go', () => !existsSync(fifo));
  expect(text(log)).toBe('last words\n');
  expect(s.handle({ op: 'list' })).toEqual({ ok: true, watches: [] });
});

it('keep lets go of every other watch; unknown requests are refused', async () => {
  const s = await server();
  for (const id of ['a', 'b']) {
    expect(spawnSync('mkfifo', [join(dir, `${id}.fifo`)]).status).toBe(0);
    s.handle({ op: 'watch', watch: { id, streams: [{ fifo: join(dir, `${id}.fifo`), log: join(dir, `${id}.log`) }] } });
  }
  s.handle({ op: 'keep', ids: ['b'] });
  expect(existsSync(join(dir, 'a.fifo'))).toBe(false);
  expect((s.handle({ op: 'list' }) as { watches: Array<{ id: string }> }).watches.map((w) => w.id)).toEqual(['b']);
  expect(s.handle({ op: 'nonsense' } as never)).toMatchObject({ ok: false });
  // A path that is no FIFO is refused, and nothing is watched for it.
  expect(() => s.handle({ op: 'watch', watch: { id: 'c', streams: [{ fifo: join(dir, 'watches.json'), log: join(dir, 'c.log') }] } })).toThrow(/not a FIFO/);
});

it('vm logs reads the tail across the current file and the newest backup, and follows across a rotation', async () => {
  const log = join(dir, 'serial.log');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${log}.1`, 'AAAA\nBBBB\n');
  writeFileSync(log, 'CCCC\n');
  expect(await readLogChunk(log, undefined, 8)).toEqual({ data: 'BBB\nCCCC\n'.slice(-8), offset: 0, nextOffset: 5 });
  expect((await readLogChunk(log, undefined, undefined)).data).toBe('AAAA\nBBBB\nCCCC\n');
  expect(await readLogChunk(log, undefined, 3)).toEqual({ data: 'CC\n', offset: 2, nextOffset: 5 });
  // A follower at offset 8 of the file that is now .1 (10 bytes): the rest of it, then the new file.
  expect(await readLogChunk(log, 8, undefined)).toEqual({ data: 'B\nCCCC\n', offset: 0, nextOffset: 5 });
  expect(await readLogChunk(log, 5, undefined)).toEqual({ data: '', offset: 5, nextOffset: 5 });
  expect(await readLogChunk(join(dir, 'none.log'), undefined, undefined)).toEqual({ data: '', offset: 0, nextOffset: 0 });
});
