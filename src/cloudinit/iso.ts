/**
 * Writes a seed ISO (ISO 9660 + Rock Ridge + Joliet) with Debian's xorriso:
 *
 *   xorriso -as mkisofs -quiet -V LABEL -J -R -o OUT.tmp STAGING
 *
 * The files are staged in a private temporary directory next to the output, the image is
 * written to `OUT.tmp-<random>` and renamed over OUT, so a reader never sees a half-written
 * seed. The ISO holds password hashes and keys: it is created mode 0600 (pass `mode` if
 * QEMU runs as another user, or chown it afterwards).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { HangarError } from '../errors/errors.js';
import { describeExit, notFound, run, succeeded } from '../util/run.js';
import { invalid } from './validate.js';

export type SeedLabel = 'cidata' | 'config-2';

export interface BuildSeedIsoOptions {
  /** File mode of the ISO. Default 0o600. */
  mode?: number;
  /** The xorriso binary. Default `xorriso` (from PATH). */
  xorriso?: string;
  timeoutMs?: number;
}

/** Largest seed accepted (all files together). */
export const MAX_SEED_BYTES = 4 * 1024 * 1024;

/** A relative path of safe components, e.g. `openstack/latest/meta_data.json`. */
function checkSeedPath(p: string): void {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || parts.some((c) => c === '' || c === '.' || c === '..' || !/^[A-Za-z0-9._-]{1,64}$/.test(c))) {
    throw invalid(`seed file name '${p.slice(0, 80)}' is not a safe relative path`);
  }
}

async function xorriso(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  const r = await run(cmd, args, { timeoutMs });
  if (succeeded(r)) return;
  const why = notFound(r) ? `${cmd} is not installed (Debian package xorriso)` : `${cmd} failed: ${r.stderr.trim() || describeExit(r, timeoutMs)}`;
  throw new HangarError('STORAGE_FAILED', `cannot build the seed ISO: ${why}`, { cause: r.spawnError });
}

/** Builds an ISO with volume id `label` holding `files` (path inside the ISO → content) at `outPath`. */
export async function buildSeedIso(
  files: Record<string, string>,
  label: SeedLabel,
  outPath: string,
  opts: BuildSeedIsoOptions = {},
): Promise<void> {
  if (label !== 'cidata' && label !== 'config-2') throw invalid(`seed label must be cidata or config-2, not '${String(label)}'`);
  const entries = Object.entries(files);
  if (entries.length === 0) throw invalid('a seed needs at least one file');
  let total = 0;
  for (const [p, content] of entries) {
    checkSeedPath(p);
    if (typeof content !== 'string') throw invalid(`seed file ${p} must be text`);
    total += Buffer.byteLength(content, 'utf8');
  }
  if (total > MAX_SEED_BYTES) throw invalid(`the seed is ${total} bytes; at most ${MAX_SEED_BYTES} are accepted`);

  const out = path.resolve(outPath);
  const dir = path.dirname(out);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = await fs.mkdtemp(path.join(dir, `.${path.basename(out)}.staging-`));
  const tmp = `${out}.tmp-${tag}`;
  try {
    await fs.chmod(staging, 0o700);
    const root = path.join(staging, 'root');
    await fs.mkdir(root, { mode: 0o755 });
    for (const [p, content] of entries) {
      const file = path.join(root, ...p.split('/'));
      for (let d = path.dirname(file); d !== root && d.startsWith(root); d = path.dirname(d)) {
        await fs.mkdir(d, { recursive: true, mode: 0o755 });
        await fs.chmod(d, 0o755); // whatever the umask
      }
      await fs.writeFile(file, content, { mode: 0o644 });
      await fs.chmod(file, 0o644);
    }
    await xorriso(opts.xorriso ?? 'xorriso', ['-as', 'mkisofs', '-quiet', '-V', label, '-J', '-R', '-o', tmp, root], opts.timeoutMs ?? 60_000);
    await fs.chmod(tmp, opts.mode ?? 0o600);
    const fh = await fs.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, out);
  } finally {
    await fs.rm(tmp, { force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}
