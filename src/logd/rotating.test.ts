import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { RotatingLog } from './rotating.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hg-rot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sizes = () => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, statSync(join(dir, f)).size]));

it('rotates at the cap, keeps maxBackups files, and never lets a file pass the cap', () => {
  const log = new RotatingLog(join(dir, 'serial.log'), { maxSize: 1000, maxBackups: 2 });
  // 120 lines of 29 bytes: 3480 bytes, more than the 3 files can hold.
  for (let i = 0; i < 120; i++) log.write(Buffer.from(`line ${String(i).padStart(23, '0')}\n`));
  log.close();
  const s = sizes();
  expect(Object.keys(s)).toEqual(['serial.log', 'serial.log.1', 'serial.log.2']);
  for (const v of Object.values(s)) expect(v).toBeLessThanOrEqual(1000);
  // Cut at line ends: each full file holds 34 whole lines (986 bytes).
  expect(s['serial.log.1']).toBe(986);
  expect(readFileSync(join(dir, 'serial.log.1'), 'utf8').split('\n').every((l) => l === '' || l.length === 28)).toBe(true);
  // The newest output is at the end of the current file; the oldest lines are gone.
  expect(readFileSync(join(dir, 'serial.log'), 'utf8').trimEnd().split('\n').pop()).toContain(String(119).padStart(23, '0'));
  expect(readFileSync(join(dir, 'serial.log.2'), 'utf8')).not.toContain(`line ${String(0).padStart(23, '0')}`);
});

it('a chunk bigger than the cap, and output without newlines, are cut at the cap', () => {
  const log = new RotatingLog(join(dir, 'q.log'), { maxSize: 100, maxBackups: 3 });
  log.write(Buffer.alloc(250, 'x'));
  log.write(Buffer.alloc(30, 'y'));
  log.close();
  expect(sizes()).toEqual({ 'q.log': 80, 'q.log.1': 100, 'q.log.2': 100 });
  expect(readFileSync(join(dir, 'q.log'), 'utf8')).toBe(`${'x'.repeat(50)}${'y'.repeat(30)}`);
});

it('no backups: the file starts over at the cap', () => {
  const log = new RotatingLog(join(dir, 'a.log'), { maxSize: 10, maxBackups: 0 });
  log.write(Buffer.from('0123456789abc'));
  log.close();
  expect(sizes()).toEqual({ 'a.log': 3 });
});

it('a writer opened again continues the current file and rotates when it is full', () => {
  const path = join(dir, 'serial.log');
  const first = new RotatingLog(path, { maxSize: 100, maxBackups: 1 });
  first.write(Buffer.from(`${'a'.repeat(59)}\n`));
  first.close();
  const second = new RotatingLog(path, { maxSize: 100, maxBackups: 1 });
  expect(second.currentSize).toBe(60);
  second.write(Buffer.from(`${'b'.repeat(29)}\n`));
  expect(sizes()).toEqual({ 'serial.log': 90 });
  second.write(Buffer.from(`${'c'.repeat(29)}\n`));
  second.close();
  expect(sizes()).toEqual({ 'serial.log': 30, 'serial.log.1': 90 });
});

it('fewer backups than before: the extra old files go at the next rotation', () => {
  const path = join(dir, 's.log');
  for (const n of [1, 2, 3, 4]) writeFileSync(`${path}.${n}`, `old ${n}\n`);
  const log = new RotatingLog(path, { maxSize: 10, maxBackups: 4 });
  log.setLimits({ maxSize: 10, maxBackups: 2 });
  log.write(Buffer.from('123456789\n'));
  log.write(Buffer.from('x\n'));
  log.close();
  expect(sizes()).toEqual({ 's.log': 2, 's.log.1': 10, 's.log.2': 6 });
  expect(readFileSync(`${path}.2`, 'utf8')).toBe('old 1\n');
});
