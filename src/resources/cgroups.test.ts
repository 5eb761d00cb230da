import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { detectCgroups } from './cgroups.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'hangar-cg-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('detects v1 by its cpu controller and writes quota, period and shares', async () => {
  mkdirSync(join(root, 'cpu'));
  writeFileSync(join(root, 'cpu', 'cpu.cfs_quota_us'), '-1');
  const cg = detectCgroups(root)!;
  expect(cg.version).toBe(1);
  await cg.setCpuLimit('abc', 20);
  await cg.setCpuWeight('abc', 200);
  await cg.place('abc', 1234);
  const dir = join(root, 'cpu', 'hangar', 'vm-abc');
  expect(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8')).toBe('20000\n');
  expect(readFileSync(join(dir, 'cpu.cfs_period_us'), 'utf8')).toBe('100000\n');
  expect(readFileSync(join(dir, 'cpu.shares'), 'utf8')).toBe('2048\n');
  expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8')).toBe('1234\n');
  await cg.setCpuLimit('abc', undefined);
  expect(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8')).toBe('-1\n');
});

it('detects v2 by cgroup.controllers and writes cpu.max and cpu.weight', async () => {
  writeFileSync(join(root, 'cgroup.controllers'), 'cpu io memory');
  writeFileSync(join(root, 'cgroup.subtree_control'), '');
  const cg = detectCgroups(root)!;
  expect(cg.version).toBe(2);
  await cg.setCpuLimit('abc', 150);
  await cg.setCpuWeight('abc', undefined);
  const dir = join(root, 'hangar', 'vm-abc');
  expect(readFileSync(join(dir, 'cpu.max'), 'utf8')).toBe('150000 100000\n');
  expect(readFileSync(join(dir, 'cpu.weight'), 'utf8')).toBe('100\n');
  expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu\n');
  await cg.setCpuLimit('abc', undefined);
  expect(readFileSync(join(dir, 'cpu.max'), 'utf8')).toBe('max 100000\n');
});

it('finds nothing where there is no cpu controller, and refuses odd ids', async () => {
  expect(detectCgroups(root)).toBeUndefined();
  writeFileSync(join(root, 'cgroup.controllers'), 'cpu');
  await expect(detectCgroups(root)!.place('../x', 1)).rejects.toThrow(/bad VM id/);
});
