/**
 * The layer check (.dependency-cruiser.cjs) must fail when a cycle or an upward import is added:
 * run it on a throw-away tree that has one, and on one that has none.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');
const dirs: string[] = [];

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-layers-'));
  dirs.push(dir);
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true }, include: ['src/**/*.ts'] }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(dir: string): { status: number | null; out: string } {
  const r = spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd: dir, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// depcruise loads TypeScript: a few seconds per run on a busy 2-core host.
describe('layer check', { timeout: 60_000 }, () => {
  it('passes a tree that imports downward only', () => {
    const r = check(tree({
      'src/errors/errors.ts': 'export const E = 1;\n',
      'src/model/spec.ts': "import { E } from '../errors/errors.js';\nexport const S = E;\n",
      'src/vm/service.ts': "import { S } from '../model/spec.js';\nexport const V = S;\n",
    }));
    expect(r.out).not.toMatch(/error/);
    expect(r.status).toBe(0);
  });

  it('fails on an upward import, even a type-only one', () => {
    const r = check(tree({
      'src/model/spec.ts': "import type { V } from '../vm/service.js';\nexport type S = V;\n",
      'src/vm/service.ts': 'export type V = number;\n',
    }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/layer-model-up: src\/model\/spec\.ts → src\/vm\/service\.ts/);
  });

  it('fails on a cycle between two top-level folders', () => {
    const r = check(tree({
      'src/store/a.ts': "import type { B } from '../qemu/b.js';\nexport type A = B;\n",
      'src/qemu/b.ts': "import type { A } from '../store/a.js';\nexport type B = A | number;\n",
    }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/no-folder-cycle/);
  });

  it('fails on a folder that has no layer yet', () => {
    const r = check(tree({
      'src/newthing/x.ts': 'export const X = 1;\n',
      'src/errors/errors.ts': "import { X } from '../newthing/x.js';\nexport const E = X;\n",
    }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/no-unlisted-folder/);
  });
});
