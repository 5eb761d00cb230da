import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_PREFIX, cacheFileOf, installSourceMappedStacks, loadBundle } from './launch.js';

// A bundle built the way scripts/bundle.mjs builds Hangar's: CommonJS in one function expression, linked source map.
let dir: string;
let bundle: string;
const SOURCE = [
  'export function add(a: number, b: number): number {',
  '  return a + b;',
  '}',
  '',
  'export function fail(why: string): never {',
  '  const e = new Error(`failed: ${why}`);',
  '  throw e;',
  '}',
  '',
].join('\n');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-launch-test-'));
  writeFileSync(join(dir, 'thing.ts'), SOURCE);
  await build({ entryPoints: [join(dir, 'thing.ts')], outfile: join(dir, 'out', 'thing.cjs'), bundle: true, format: 'cjs', platform: 'node', sourcemap: 'linked', logLevel: 'silent', banner: { js: BUNDLE_PREFIX }, footer: { js: '})' } });
  bundle = join(dir, 'out', 'thing.cjs');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('loadBundle', () => {
  it('runs the bundle and hands back its exports', () => {
    const b = loadBundle(bundle);
    expect((b.exports.add as (a: number, b: number) => number)(2, 3)).toBe(5);
  });

  // In one process V8 reuses what it compiled already and never looks at the cache: a new process per load.
  const loadInChild = (write: boolean, cacheDir?: string): { cache: string; sum: number; wrote?: boolean } => {
    const script = join(dir, 'load.mts');
    writeFileSync(script, [
      `import { loadBundle } from ${JSON.stringify(join(import.meta.dirname, 'launch.ts'))};`,
      `const b = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheDir === undefined ? {} : { cacheDir })});`,
      `const out = { cache: b.cache, sum: b.exports.add(2, 3) };`,
      write ? 'out.wrote = b.writeCache();' : '',
      'process.stdout.write(JSON.stringify(out));',
    ].join('\n'));
    return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' })) as { cache: string; sum: number; wrote?: boolean };
  };

  it('writes a code cache that the next start accepts', () => {
    rmSync(cacheFileOf(bundle, ['--import', 'tsx']), { force: true });
    expect(loadInChild(true)).toEqual({ cache: 'none', sum: 5, wrote: true });
    expect(loadInChild(false)).toEqual({ cache: 'accepted', sum: 5 });
  });

  it('keeps the cache in a directory of its own when given one (the package: /var/cache/hangar/code-cache)', () => {
    const cacheDir = join(dir, 'cache', 'code-cache');
    const beside = cacheFileOf(bundle, ['--import', 'tsx']);
    rmSync(beside, { force: true });
    expect(loadInChild(true, cacheDir)).toEqual({ cache: 'none', sum: 5, wrote: true });
    expect(existsSync(beside)).toBe(false);
    expect(existsSync(cacheFileOf(join(cacheDir, 'thing.cjs'), ['--import', 'tsx']))).toBe(true);
    expect(loadInChild(false, cacheDir)).toEqual({ cache: 'accepted', sum: 5 });
  }, 30_000);

  it('refuses a file that is not such a bundle', () => {
    writeFileSync(join(dir, 'plain.cjs'), 'module.exports = 1;\n');
    expect(() => loadBundle(join(dir, 'plain.cjs'))).toThrow(/not a bundle.*npm run build/);
  });

  it('ignores a cache that does not fit', () => {
    writeFileSync(cacheFileOf(bundle, ['--import', 'tsx']), 'not a code cache');
    expect(loadInChild(false)).toEqual({ cache: 'rejected', sum: 5 });
  });

  it('reports a cache it cannot write', () => {
    // A copy whose directory is gone by the time the cache is written.
    const where = join(dir, 'gone');
    mkdirSync(where);
    copyFileSync(bundle, join(where, 'thing.cjs'));
    const b = loadBundle(join(where, 'thing.cjs'));
    rmSync(where, { recursive: true, force: true });
    expect(b.writeCache()).toBe(false);
  });
});

describe('installSourceMappedStacks', () => {
  const saved = Error.prepareStackTrace;
  afterEach(() => {
    Error.prepareStackTrace = saved;
  });

  it('maps frames in the bundle to the TypeScript source, lazily, and keeps the rest of the trace', () => {
    installSourceMappedStacks([bundle]);
    const fail = loadBundle(bundle).exports.fail as (why: string) => never;
    let stack = '';
    try {
      fail('on purpose');
    } catch (e) {
      stack = (e as Error).stack ?? '';
    }
    const lines = stack.split('\n');
    expect(lines[0]).toBe('Error: failed: on purpose');
    // `new Error` is on line 6, column 13 of thing.ts.
    expect(lines[1]).toMatch(new RegExp(`^ {4}at fail \\(${join(dir, 'thing.ts').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:13\\)$`));
    // The caller (this test file) is not in a bundle: left as V8 wrote it.
    expect(lines[2]).toMatch(/launch\.test\.ts:\d+:\d+\)?$/);
  });

  it('formats errors without frames, and frames of files without a map, as V8 does', () => {
    installSourceMappedStacks([join(dir, 'no-such.cjs')]);
    const e = new TypeError('plain');
    expect(e.stack?.split('\n')[0]).toBe('TypeError: plain');
    expect(e.stack).toMatch(/\n {4}at .*launch\.test\.ts:\d+:\d+/);
  });
});
