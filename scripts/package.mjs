#!/usr/bin/env node
// `npm run package`: the Debian package dist-pkg/hangar_<version>_amd64.deb, for Debian 12
// (bookworm) on amd64. Builds the command (`npm run build`) and the web UI (ui/, `npm run
// build` there) first when they are missing or older than their sources.
//
// What it holds (see packaging/README.md):
//   /usr/lib/hangar/node                 this Node.js (Debian 12's nodejs is 18; Hangar needs 20)
//   /usr/lib/hangar/bin/hangar           bin/hangar, run by that Node, its code cache in /var/cache/hangar/code-cache
//   /usr/lib/hangar/dist/bundle/         the command in one file (+ launcher, fencer, logd, source map)
//   /usr/lib/hangar/ui/dist/             the web UI (src/api/ui.ts finds it at ../../ui/dist from the bundle)
//   /usr/lib/hangar/node_modules/better-sqlite3/   its native addon and package.json only (src/store/sqlite.ts)
//   /usr/lib/hangar/wait-ready.cjs       hangar.service's ExecStartPost
//   /usr/bin/hangar                      -> ../lib/hangar/bin/hangar
//   /lib/systemd/system/hangar.service, hangar-guests.service
//   /etc/hangar/hangar.env               a conffile: one variable per daemon flag
// Nothing under /usr is written at run time.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const outDir = join(root, 'dist-pkg');
const stage = join(outDir, `hangar_${version}_amd64`);
const deb = join(outDir, `hangar_${version}_amd64.deb`);
const LIB = 'usr/lib/hangar';
const CODE_CACHE_DIR = '/var/cache/hangar/code-cache';

/**
 * Debian packages Hangar runs (compare scripts/setup's APT_PACKAGES): the hypervisor, disks,
 * firmware, vTPMs, managed networks, seed ISOs, the TLS listener's certificate, and what the
 * daemon uses to build the tiny image at its first start (apt-get download, dpkg-deb: always
 * there on Debian; zstd for compressed kernel modules). libc6, libstdc++6 and libgcc-s1: the
 * carried Node and the SQLite addon link them.
 */
const DEPENDS = [
  'adduser', 'libc6 (>= 2.28)', 'libstdc++6', 'libgcc-s1',
  'qemu-system-x86', 'qemu-utils', 'ipxe-qemu', 'ovmf', 'swtpm', 'swtpm-tools',
  'dnsmasq-base', 'nftables', 'iproute2', 'xorriso', 'openssl', 'ca-certificates', 'zstd',
];
/**
 * Only for building the Debian images on demand (`hangar image build debian-12` and
 * `debian-12-uefi`: debootstrap, a bootloader, an ext4 and a FAT file system), which a host
 * running only imported or tiny guests does without: apt installs them by default, an
 * administrator may leave them out (--no-install-recommends).
 */
const RECOMMENDS = ['debootstrap', 'grub-pc-bin', 'e2fsprogs', 'mtools', 'shim-signed', 'grub-efi-amd64-signed'];

/**
 * Files the built command writes at package time, into a directory of the package: the shell
 * completion scripts (bash-completion/completions/hangar, zsh/vendor-completions/_hangar,
 * fish/vendor_completions.d/hangar.fish under /usr/share) and the man pages (hangar(1),
 * hangar-vm(1), …, gzipped). Each runs `node bin/hangar ARGS --dir <that directory>` from
 * this checkout: made from the CLI itself, they never drift from it.
 * @type {Array<{ dir: string, args: string[] }>}
 */
const GENERATED = [
  { dir: '/usr/share', args: ['completion'] },
  { dir: '/usr/share/man/man1', args: ['man', '--gzip'] },
];

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name === 'dist') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

function stale(output, sources) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return sources.some((s) => existsSync(s) && newestMtime(s) > built);
}

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
}

// 1. The command and the UI, built when missing or older than their sources.
const bundleDir = join(root, 'dist', 'bundle');
const BUNDLE_FILES = ['hangar.cjs', 'hangar.cjs.map', 'launch.cjs', 'fencer.cjs', 'logd.cjs'];
if (BUNDLE_FILES.some((f) => !existsSync(join(bundleDir, f))) || stale(join(bundleDir, 'hangar.cjs'), ['src', 'scripts/bundle.mjs', 'package-lock.json'].map((p) => join(root, p)))) {
  console.log('==> npm run build');
  run('npm', ['run', '--silent', 'build']);
}
const uiDist = join(root, 'ui', 'dist');
if (stale(join(uiDist, 'index.html'), ['ui/src', 'ui/index.html', 'ui/public', 'ui/vite.config.ts', 'ui/package-lock.json'].map((p) => join(root, p)))) {
  console.log('==> npm run build (ui/)');
  // A production build whatever this runs under (vitest sets NODE_ENV=test, which makes Vite
  // build React's development JSX, with the source files' absolute paths in it).
  run('npm', ['run', '--silent', 'build'], { cwd: join(root, 'ui'), env: { ...process.env, NODE_ENV: 'production' } });
}

// 2. The tree.
rmSync(stage, { recursive: true, force: true });
rmSync(deb, { force: true });
const at = (p) => join(stage, p);
const dir = (p) => mkdirSync(at(p), { recursive: true });

dir(LIB);
copyFileSync(process.execPath, at(`${LIB}/node`));
chmodSync(at(`${LIB}/node`), 0o755);

dir(`${LIB}/dist/bundle`);
for (const f of BUNDLE_FILES) copyFileSync(join(bundleDir, f), at(`${LIB}/dist/bundle/${f}`));
dir(`${LIB}/ui`);
cpSync(uiDist, at(`${LIB}/ui/dist`), { recursive: true });

// better-sqlite3's JavaScript is in the bundle; its addon is found with require.resolve from there.
const sqlite = join(root, 'node_modules', 'better-sqlite3');
dir(`${LIB}/node_modules/better-sqlite3/build/Release`);
const sqlitePkg = JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8'));
writeFileSync(at(`${LIB}/node_modules/better-sqlite3/package.json`), JSON.stringify({ name: sqlitePkg.name, version: sqlitePkg.version, license: sqlitePkg.license, main: sqlitePkg.main }, null, 2) + '\n');
copyFileSync(join(sqlite, 'build', 'Release', 'better_sqlite3.node'), at(`${LIB}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`));
copyFileSync(join(sqlite, 'LICENSE'), at(`${LIB}/node_modules/better-sqlite3/LICENSE`));

// bin/hangar, with the carried Node on its #! line (same V8 flags) and its code cache out of /usr.
let launcher = readFileSync(join(root, 'bin', 'hangar'), 'utf8');
const edits = [
  [/^#!\/usr\/bin\/env -S node /, `#!/usr/bin/env -S /${LIB}/node `],
  [/^const codeCacheDir = undefined;$/m, `const codeCacheDir = ${JSON.stringify(CODE_CACHE_DIR)};`],
];
for (const [from, to] of edits) {
  if (!from.test(launcher)) throw new Error(`scripts/package.mjs: bin/hangar no longer has ${from}: update the edits`);
  launcher = launcher.replace(from, to);
}
dir(`${LIB}/bin`);
writeFileSync(at(`${LIB}/bin/hangar`), launcher, { mode: 0o755 });
copyFileSync(join(root, 'bin', 'package.json'), at(`${LIB}/bin/package.json`));
dir('usr/bin');
symlinkSync(`../lib/hangar/bin/hangar`, at('usr/bin/hangar'));
copyFileSync(join(root, 'packaging', 'wait-ready.cjs'), at(`${LIB}/wait-ready.cjs`));

dir('lib/systemd/system');
for (const unit of ['hangar.service', 'hangar-guests.service']) copyFileSync(join(root, 'packaging', 'systemd', unit), at(`lib/systemd/system/${unit}`));
dir('etc/hangar');
copyFileSync(join(root, 'packaging', 'hangar.env'), at('etc/hangar/hangar.env'));
dir('usr/share/doc/hangar');
copyFileSync(join(root, 'README.md'), at('usr/share/doc/hangar/README.md'));
copyFileSync(join(root, 'packaging', 'README.md'), at('usr/share/doc/hangar/README.packaging.md'));

for (const g of GENERATED) {
  mkdirSync(at(g.dir), { recursive: true });
  execFileSync(process.execPath, [join(root, 'bin', 'hangar'), ...g.args, '--dir', at(g.dir)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

// 3. Control files.
dir('DEBIAN');
const installedKiB = Number(execFileSync('du', ['-sk', '--exclude=DEBIAN', stage], { encoding: 'utf8' }).split('\t')[0]);
const control = readFileSync(join(root, 'packaging', 'debian', 'control.in'), 'utf8')
  .replace('@VERSION@', version)
  .replace('@INSTALLED_SIZE@', String(installedKiB))
  .replace('@DEPENDS@', DEPENDS.join(', '))
  .replace('@RECOMMENDS@', RECOMMENDS.join(', '));
writeFileSync(at('DEBIAN/control'), control);
writeFileSync(at('DEBIAN/conffiles'), '/etc/hangar/hangar.env\n');
for (const script of ['postinst', 'prerm', 'postrm']) {
  copyFileSync(join(root, 'packaging', 'debian', script), at(`DEBIAN/${script}`));
  chmodSync(at(`DEBIAN/${script}`), 0o755);
}

// 4. The package: root-owned files whatever the builder's user; gzip -1 (fast; Debian 12's dpkg reads it).
run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(stage, { recursive: true, force: true });
console.log(`${deb} (${(statSync(deb).size / 2 ** 20).toFixed(1)} MiB)`);
