/**
 * How `bin/hangar` runs the bundled command (dist/bundle/hangar.cjs, made by
 * scripts/bundle.mjs): one file instead of ~250 modules, compiled with a V8 code cache, and
 * stack traces mapped back to src/*.ts through its source map.
 *
 * - Code cache: V8 serialises the bytecode of every function compiled so far; handing it back
 *   at the next start skips parsing and compiling them (a third of the daemon's start-up).
 *   The daemon writes it a little after it starts, when the cache was missing or rejected
 *   (a new build, another Node); commands never write it, they only use it. V8 checks that
 *   the cache fits this source, V8 version and flags, and ignores it otherwise.
 * - Source maps: Node's own (--enable-source-maps) neither apply to code compiled this way
 *   nor come free (it parses every map at load). Here the map is read the first time a stack
 *   trace goes through the bundle.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, SourceMap } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { Script } from 'node:vm';

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** Whether a code cache was used. */
  cache: 'none' | 'accepted' | 'rejected';
  /** Writes a fresh code cache next to the bundle (atomically); false when it cannot. */
  writeCache(): boolean;
}

/**
 * A bundle is one function expression with the parameters of Node's CommonJS wrapper
 * (scripts/bundle.mjs writes it so): compiled as it is read, without a second copy of the
 * source wrapped around it.
 */
export const BUNDLE_PREFIX = "(function (exports, require, module, __filename, __dirname) {'use strict';";

/**
 * `<bundle>.cache`, or `<bundle>.<hash>.cache` when Node was given flags: the V8 code cache of
 * the bundle. V8 rejects a cache made under other flags, and `bin/hangar` (whose #! line gives
 * Node heap flags) and `node bin/hangar` (as tests run it) start Node with different ones: one
 * cache each, instead of each rejecting and rewriting the other's.
 */
export function cacheFileOf(bundle: string, nodeFlags: readonly string[] = process.execArgv): string {
  if (nodeFlags.length === 0) return `${bundle}.cache`;
  return `${bundle}.${createHash('sha256').update(nodeFlags.join('\0')).digest('hex').slice(0, 12)}.cache`;
}

export interface LoadOptions {
  /**
   * Where the code cache is kept: beside the bundle when absent (a checkout). The Debian
   * package's launcher names /var/cache/hangar/code-cache: nothing under /usr is written at
   * run time (scripts/package.mjs).
   */
  cacheDir?: string;
}

/** Compiles and runs a bundle like Node's CommonJS loader runs a module, with its code cache when there is one. */
export function loadBundle(bundle: string, opts: LoadOptions = {}): LoadedBundle {
  const file = resolve(bundle);
  const cacheFile = cacheFileOf(opts.cacheDir === undefined ? file : join(resolve(opts.cacheDir), basename(file)));
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // none yet
  }
  // The bundle is ASCII only (scripts/bundle.mjs sees to it): read as latin1, a plain copy
  // into a one-byte string, where UTF-8 would be validated and decoded first.
  const source = readFileSync(file, 'latin1');
  if (!source.startsWith(BUNDLE_PREFIX)) throw new Error(`${file} is not a bundle of scripts/bundle.mjs: rebuild (npm run build)`);
  const script = new Script(source, {
    filename: file,
    ...(cachedData && { cachedData }),
  });
  const mod = { exports: {} as Record<string, unknown> };
  (script.runInThisContext() as (...args: unknown[]) => void)(mod.exports, createRequire(file), mod, file, dirname(file));
  return {
    exports: mod.exports,
    cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
    writeCache: () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        if (opts.cacheDir !== undefined) mkdirSync(opts.cacheDir, { recursive: true, mode: 0o755 });
        writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
        renameSync(tmp, cacheFile);
        return true;
      } catch {
        // A read-only checkout: start without a cache, as before.
        rmSync(tmp, { force: true });
        return false;
      }
    },
  };
}

interface MappedFile {
  map?: SourceMap;
  /** Directory the map's `sources` are relative to. */
  base: string;
}

/**
 * Maps stack frames of `bundles` to the original sources, lazily: `Error.prepareStackTrace`
 * formats frames as V8 does and only rewrites the `file:line:column` of frames in a bundle.
 */
export function installSourceMappedStacks(bundles: readonly string[]): void {
  const files = new Map<string, MappedFile | undefined>(bundles.map((b) => [resolve(b), undefined]));
  const mapped = (file: string): MappedFile | undefined => {
    if (!files.has(file)) return undefined;
    let m = files.get(file);
    if (!m) {
      m = { base: dirname(file) };
      try {
        m.map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        // No map: frames stay as they are.
      }
      files.set(file, m);
    }
    return m;
  };
  Error.prepareStackTrace = (error, frames) => {
    const header = Error.prototype.toString.call(error);
    const lines = frames.map((frame) => {
      const text = String(frame);
      const file = frame.getFileName();
      const line = frame.getLineNumber();
      const column = frame.getColumnNumber();
      if (!file || line === null || column === null) return text;
      const m = mapped(file);
      if (!m?.map) return text;
      const entry = m.map.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number };
      if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return text;
      const source = entry.originalSource.startsWith('file://') ? new URL(entry.originalSource).pathname : resolve(m.base, entry.originalSource);
      const at = `${file}:${line}:${column}`;
      const to = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
      const i = text.lastIndexOf(at);
      return i < 0 ? text : text.slice(0, i) + to + text.slice(i + at.length);
    });
    return lines.length ? `${header}\n    at ${lines.join('\n    at ')}` : header;
  };
}
