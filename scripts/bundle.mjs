#!/usr/bin/env node
// Bundles the `hangar` command (src/cli/entry.ts and everything it imports, npm packages
// included) into dist/bundle/hangar.cjs with esbuild; `npm run build` runs it after tsc, and
// bin/hangar loads it through src/cli/launch.ts (V8 code cache, source-mapped stack traces).
// Why: loading ~250 separate modules (resolving, reading and compiling each) was most of the
// daemon's start-up. Dynamic `import()`s of Hangar's own modules stay lazy: the daemon's
// modules are only evaluated by `hangar daemon`, the image builders only by `image build`.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Two levels below the root, like dist/api/: src/api/ui.ts finds ui/dist at ../../ui/dist.
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

/**
 * Packages that modules load at start for a function they may never call: the bundle gets a
 * stand-in whose functions load the real package on their first call (it is bundled all the
 * same, only evaluated later). `glob`: @fastify/static lists files with it only for
 * `wildcard: false`, and the UI is served with a wildcard route.
 */
const LAZY = [{ pkg: 'glob', importer: /[\\/]@fastify[\\/]static[\\/]/, functions: ['glob'] }];
const lazyPackages = {
  name: 'lazy-packages',
  setup(b) {
    for (const { pkg, importer } of LAZY) {
      b.onResolve({ filter: new RegExp(`^${pkg}$`) }, async (args) => {
        if (!importer.test(args.importer)) return undefined;
        const real = await b.resolve(pkg, { resolveDir: args.resolveDir, kind: args.kind });
        // Relative to the root: the path names the module in the bundle, which must not hold
        // the build tree's absolute path (the Debian package is checked for it).
        return { path: relative(root, real.path), namespace: 'lazy-package' };
      });
    }
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => {
      const { functions } = LAZY.find((l) => args.path.includes(`${l.pkg}`));
      const real = JSON.stringify(resolve(root, args.path));
      return {
        contents: functions.map((f) => `exports.${f} = function (...args) { return require(${real}).${f}.apply(this, args); };`).join('\n'),
        loader: 'js',
        resolveDir: dirname(resolve(root, args.path)),
      };
    });
  },
};

/**
 * Node's own modules that packages load at start for what they rarely do: HTTP/2 and DNS
 * (Fastify, for servers Hangar does not make), readline (cli-progress, for a progress bar),
 * TLS and HTTPS (ws, for clients). Each becomes a stand-in that loads the real module on its
 * first use and passes everything through. Hangar's own modules load tls and https with
 * process.getBuiltinModule where they use them (an ES module import of a stand-in loads it at
 * once). zlib, worker_threads, tty and cluster are used at start anyway (prom-client, pino,
 * debug), as is anything a package destructures as it loads.
 */
const LAZY_BUILTINS = ['http2', 'dns', 'readline', 'tls', 'https'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: [
        'let real;',
        `const load = () => (real ??= require(${JSON.stringify(`node:${args.path}`)}));`,
        // Every trap forwards to the real module (descriptors made configurable, as a proxy must for an empty target).
        'module.exports = new Proxy({}, {',
        '  get: (_, k) => load()[k],',
        '  set: (_, k, v) => { load()[k] = v; return true; },',
        '  has: (_, k) => k in load(),',
        '  ownKeys: () => Reflect.ownKeys(load()),',
        '  getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); if (d) d.configurable = true; return d; },',
        '  defineProperty: (_, k, d) => Reflect.defineProperty(load(), k, d),',
        '  deleteProperty: (_, k) => Reflect.deleteProperty(load(), k),',
        '  getPrototypeOf: () => Reflect.getPrototypeOf(load()),',
        '});',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/**
 * find-my-way (Fastify's router) generates a small function with `new Function` for every
 * route and every static path node as routes are added: 535 of them for the API, ~15 % of the
 * daemon's start-up, since generated code is compiled afresh at every start (a code cache
 * only holds the bundle's own functions). Each becomes a stand-in that generates the very same
 * function on its first call: only the routes a daemon serves pay for it. The build fails if
 * find-my-way's code no longer reads as expected (a new version: look at it again).
 */
const DEFERRED_CODEGEN = [
  {
    file: /[\\/]find-my-way[\\/]lib[\\/]node\.js$/,
    from: "return new Function('path', 'i', `'use strict'\\nreturn ${lines.join(' && ')}`) // eslint-disable-line",
    to: "const body = `'use strict'\\nreturn ${lines.join(' && ')}`; let compiled; return function matchPrefix (path, i) { return (compiled ??= new Function('path', 'i', body))(path, i) }",
  },
  {
    file: /[\\/]find-my-way[\\/]lib[\\/]handler-storage\.js$/,
    from: "return new Function('NullObject', fnBody.join('\\n'))(NullObject)  // eslint-disable-line",
    to: "const body = fnBody.join('\\n'); let fn; return function _createParamsObject (param0, param1, param2, param3, extraParams) { return (fn ??= new Function('NullObject', body)(NullObject))(param0, param1, param2, param3, extraParams) }",
  },
  {
    file: /[\\/]find-my-way[\\/]lib[\\/]handler-storage\.js$/,
    from: "this._getHandlerMatchingConstraints = new Function('derivedConstraints', lines.join('\\n')) // eslint-disable-line",
    to: "const body = lines.join('\\n'); let compiled; this._getHandlerMatchingConstraints = function (derivedConstraints) { return (compiled ??= new Function('derivedConstraints', body)).call(this, derivedConstraints) }",
  },
];
const deferredCodegen = {
  name: 'deferred-codegen',
  setup(b) {
    b.onLoad({ filter: /[\\/]find-my-way[\\/]lib[\\/](node|handler-storage)\.js$/ }, async (args) => {
      let contents = await readFile(args.path, 'utf8');
      for (const d of DEFERRED_CODEGEN.filter((x) => x.file.test(args.path))) {
        if (contents.split(d.from).length !== 2) throw new Error(`scripts/bundle.mjs: ${args.path} no longer has \`${d.from}\` (once): update DEFERRED_CODEGEN`);
        contents = contents.replace(d.from, () => d.to);
      }
      return { contents, loader: 'js' };
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { hangar: 'src/cli/entry.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  // CommonJS, one file: V8 code caches (vm.Script) are for scripts, not ES modules.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  // Smaller to read (names stay: stack traces keep them; the source map gives the places).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  // better-sqlite3's JavaScript is bundled; its addon is loaded from node_modules (src/store/sqlite.ts names it).
  external: [
    // Optional speed-ups of ws, tried with require() inside a try: absent here.
    'bufferutil', 'utf-8-validate',
  ],
  // import.meta.url (src/api/ui.ts, src/cli/output.ts) is the bundle's own URL.
  define: { 'import.meta.url': '__hangarBundleUrl' },
  // One function expression with the parameters of Node's CommonJS wrapper (BUNDLE_PREFIX in
  // src/cli/launch.ts): the launcher compiles the file as it reads it. Strict mode first, as
  // esbuild means its output to run (its own "use strict" comes after this banner).
  banner: { js: "(function (exports, require, module, __filename, __dirname) {'use strict';var __hangarBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  footer: { js: '})' },
  plugins: [lazyPackages, lazyBuiltins, deferredCodegen],
  write: false,
});

// The launcher bin/hangar requires (CommonJS, like bin/hangar: see there), the fencer
// (src/cluster/fencer/main.ts) and logd (src/logd/main.ts), small processes of their own beside
// the daemon: one file each.
const launcher = await build({
  absWorkingDir: root,
  entryPoints: { launch: 'src/cli/launch.ts', fencer: 'src/cluster/fencer/main.ts', logd: 'src/logd/main.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  write: false,
});
result.outputFiles.push(...launcher.outputFiles);

// An ES module import of a lazy built-in (esbuild's __toESM copies every property) loads it
// at once: Hangar's modules use process.getBuiltinModule for those (see LAZY_BUILTINS).
const hangarOut = result.outputFiles.find((f) => f.path.endsWith('hangar.cjs'));
const lazyStandIns = [...hangarOut.text.matchAll(/var (require_[\w$]+)=__commonJS\(\{"lazy-builtin:/g)].map((m) => m[1]);
for (const name of lazyStandIns) {
  if (hangarOut.text.includes(`__toESM(${name}()`)) throw new Error(`scripts/bundle.mjs: a module imports the lazy built-in of ${name} as an ES module, which loads it at start: use process.getBuiltinModule where it is used`);
}

// esbuild escapes non-ASCII characters in code (charset ascii) but keeps them in the few
// comments it preserves. One such character makes V8 hold the whole bundle as a two-byte
// string, decoded and parsed several times slower: replace each UTF-16 unit by '?' (same
// columns, so the source map stays exact).
for (const file of result.outputFiles) {
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(file.path, file.path.endsWith('hangar.cjs') ? file.text.replace(/[\u0080-\uffff]/g, '?') : file.contents);
}
