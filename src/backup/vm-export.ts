/**
 * `vm export` and `vm import`: one tar archive that holds a whole VM, to move it to another
 * host (or keep it outside Hangar). Its members, in this order:
 *
 * - `hangar-export.json`: the format and version, the VM's name, id and spec, per disk its
 *   id, pool and virtual size, whether there is an NVRAM, the TPM state's file names;
 * - `disks/<id>.qcow2`: each disk, flattened (no backing file) at one instant: a running
 *   VM's disks are read from a point-in-time NBD export (image fleecing, as a backup does:
 *   the guest runs on), a stopped VM's from its files (under the VM's operation lock);
 * - `nvram.raw`, `tpm/<file>`: when the VM has them.
 *
 * The archive is built in a staging directory next to FILE, `.<FILE>.<token>.export`, and
 * becomes FILE by a rename: a failure leaves nothing, and what a killed daemon left goes at
 * the next start (the staging directory is recorded before it is made: in-flight.ts).
 *
 * Import trusts nothing in the archive: the member list is checked first (only the names
 * above, no absolute path, no `..`), the members are extracted one by one by name into a
 * private directory and must be plain files, the JSON is checked, and each disk must be a
 * qcow2 of the declared size that refers to no other file (UNSAFE_IMAGE). The VM is then
 * made as a restore makes it (`materializeVm`): under its own name with its identity, or
 * `--as NAME` with a new one; a failure removes what was made, and what a killed daemon left
 * (volumes of a VM never made, a disk being copied in as `<volume>.<token>.import`) goes
 * at the next start.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync } from 'node:fs';
import { chmod, chown, copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { errorText, HangarError } from '../errors/errors.js';
import type { VmSpec } from '../model/spec.js';
import type { OperationContext } from '../operations/service.js';
import type { QmpClient } from '../qmp/index.js';
import type { VmService, VmView } from '../vm/service.js';
import { materializeVm, type RestoreDeps } from './restore.js';
import type { InFlight } from './in-flight.js';
import { startExport } from './qmp-export.js';

const run = promisify(execFile);

export const EXPORT_FORMAT = 'hangar-export';
export const EXPORT_VERSION = 1;
const MANIFEST = 'hangar-export.json';
const DISK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const TPM_FILE = /^[A-Za-z0-9][\w.-]{0,99}$/;

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  version: number;
  createdAt: string;
  vm: string;
  vmId: string;
  spec: VmSpec;
  disks: Array<{ id: string; format: 'qcow2'; sizeBytes: number; pool?: string; bootIndex?: number }>;
  nvram: boolean;
  tpm: string[];
}

export interface ExportResult {
  vm: string;
  file: string;
  sizeBytes: number;
  disks: Array<{ id: string; sizeBytes: number }>;
  live: boolean;
  durationMs: number;
}

export interface ExportDeps extends RestoreDeps {
  vms: Pick<VmService, 'createRestored' | 'operate' | 'replaceTpmState' | 'pathsOf' | 'handOverFile' | 'agentPresent' | 'agentFor'>;
  /** `<data-dir>/tpm`. */
  tpmRoot: string;
  /** Where an import extracts its archive (on the data directory's file system). */
  stagingRoot: string;
  diskSizes: (qmp: QmpClient, ids: string[]) => Promise<Map<string, number>>;
  /** Records what an export or import makes, for the cleanup after a killed daemon. */
  inFlight: InFlight;
}

function mustBeAbsolute(file: unknown, what: string): string {
  if (typeof file !== 'string' || !file.startsWith('/') || file.endsWith('/') || file.includes('\0') || file.split('/').includes('..')) {
    throw new HangarError('INVALID_SPEC', `The ${what} must be an absolute file path (the daemon writes and reads it), not "${String(file)}".`, { details: { field: 'file' } });
  }
  return file;
}

/** Checks an export's target before anything is done: absolute, in a directory, not there (unless force). */
export async function checkExportTarget(file: unknown, force: boolean | undefined): Promise<string> {
  const path = mustBeAbsolute(file, 'export file');
  const dir = await stat(dirname(path)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new HangarError('NOT_FOUND', `There is no directory ${dirname(path)} to write ${basename(path)} in.`, { details: { field: 'file' } });
  const there = await lstat(path).catch(() => undefined);
  if (there?.isDirectory()) throw new HangarError('INVALID_SPEC', `${path} is a directory: name the archive file to write.`, { details: { field: 'file' } });
  // Only a regular file is ever replaced: the archive is renamed over the target, and
  // a device such as /dev/zero or a symlink must never be swapped for it.
  if (there && !there.isFile()) throw new HangarError('INVALID_SPEC', `${path} is not a regular file: name a file to write the archive to.`, { details: { field: 'file' } });
  if (there && !force) throw new HangarError('FILE_EXISTS', `${path} exists already: pick another name, or --force to replace it.`, { details: { field: 'file' } });
  return path;
}

export async function checkImportSource(file: unknown): Promise<string> {
  const path = mustBeAbsolute(file, 'archive');
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new HangarError('NOT_FOUND', `There is no file ${path}.`, { details: { field: 'file' } });
  if (!st.isFile()) throw new HangarError('INVALID_SPEC', `${path} is not a file.`, { details: { field: 'file' } });
  return path;
}

/** Runs a command; its progress (qemu-img -p) goes to `onPercent`. */
function runTool(cmd: string, args: string[], onPercent?: (p: number) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(signal && { signal }) });
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => {
      const m = /\((\d+(?:\.\d+)?)\/100%\)\s*$/.exec(b.toString());
      if (m && onPercent) onPercent(Number(m[1]));
    });
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()).length > 8192 && (stderr = stderr.slice(-8192)));
    child.once('error', (e) => reject(signal?.aborted ? new HangarError('INTERRUPTED', 'The operation was cancelled.') : new HangarError('STORAGE_FAILED', `Cannot run ${cmd}: ${e.message}`)));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new HangarError(/No space left/i.test(stderr) ? 'STORAGE_FULL' : 'STORAGE_FAILED', `${cmd} failed (${String(code)}): ${stderr.trim() || 'no message'}`));
    });
  });
}

// ---- export --------------------------------------------------------------------

export async function exportVm(deps: ExportDeps, vm: string, input: { file: string; force?: boolean; compress?: boolean }, ctx?: OperationContext): Promise<ExportResult> {
  const t0 = performance.now();
  return deps.vms.operate(vm, 'export', async (h) => {
    const file = await checkExportTarget(input.file, input.force);
    const rec = await h.record();
    const live = rec.state === 'running' || rec.state === 'paused';
    if (!live && rec.state !== 'stopped' && rec.state !== 'crashed') {
      throw new HangarError('VM_STATE', `Cannot export VM "${vm}" while it is ${rec.state}: export it running, paused or stopped.`, { details: { state: rec.state } });
    }
    const transfer = await deps.inFlight.begin('export', `${rec.name} to ${file}`);
    const staging = await transfer.path('dir', (token) => join(dirname(file), `.${basename(file)}.${token}.export`));
    // Not recursive: a directory there already is not ours.
    await mkdir(staging, { mode: 0o700 }).catch(async (e: unknown) => {
      await transfer.end();
      // A directory that takes no new entries (/proc, a read-only mount, no permission)
      // is the caller's choice of path, not a fault of the daemon.
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR') {
        throw new HangarError('INVALID_SPEC', `Cannot write in ${dirname(file)} (${code}): name a file in a writable directory.`, { details: { field: 'file' } });
      }
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new HangarError('STORAGE_FULL', `No space in ${dirname(file)} to export to.`);
      throw e;
    });
    const partial = join(staging, 'archive.tar.partial');
    try {
      await mkdir(join(staging, 'disks'), { mode: 0o700 });
      const disks: ExportManifest['disks'] = [];
      const progress = (i: number, pct: number) => ctx?.progress({ phase: `reading ${rec.spec.disks[i]!.id}`, percent: Math.floor((i * 100 + pct) / Math.max(1, rec.spec.disks.length) * 0.95) });
      const convert = async (i: number, src: string[], sizeBytes: number) => {
        const d = rec.spec.disks[i]!;
        await runTool('qemu-img', ['convert', '-p', ...src, '-O', 'qcow2', ...(input.compress ? ['-c'] : []), join(staging, 'disks', `${d.id}.qcow2`)], (p) => progress(i, p), ctx?.signal);
        disks.push({ id: d.id, format: 'qcow2', sizeBytes, ...(d.volume && { pool: d.volume.pool }), ...(d.bootIndex !== undefined && { bootIndex: d.bootIndex }) });
      };
      if (live && rec.spec.disks.length) {
        const qmp = await h.qmp();
        await transfer.live(rec.id);
        const sizes = await deps.diskSizes(qmp, rec.spec.disks.map((d) => d.id));
        const agent = rec.state === 'running' && (await deps.vms.agentPresent(rec)) ? deps.vms.agentFor(rec) : undefined;
        const session = await startExport(qmp, rec.spec.disks.map((d) => ({ node: d.id, sizeBytes: sizes.get(d.id)! })), {
          dir: dirname(deps.vms.pathsOf(rec).qmpSocket),
          handOver: (path) => deps.vms.handOverFile(rec, path),
          ...(agent && {
            freeze: async () => (await agent.ping(1000)) && (await agent.fsFreeze().then(() => true, () => false)),
            thaw: async () => agent.fsThaw().then(() => undefined),
          }),
        });
        try {
          for (const [i, d] of rec.spec.disks.entries()) {
            const src = { driver: 'raw', file: { driver: 'nbd', server: { type: 'unix', path: session.socket }, export: session.exportName(d.id) } };
            await convert(i, [`json:${JSON.stringify(src)}`], sizes.get(d.id)!);
          }
        } finally {
          await session.finish(false);
        }
      } else {
        for (const [i, d] of rec.spec.disks.entries()) {
          const { stdout } = await run('qemu-img', ['info', '--output=json', '-f', d.format, d.path]);
          await convert(i, ['-f', d.format, d.path], (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size']);
        }
      }
      const members = [MANIFEST, ...disks.map((d) => `disks/${d.id}.qcow2`)];
      const nvramPath = rec.spec.firmware?.nvram?.path;
      const nvram = nvramPath !== undefined && existsSync(nvramPath);
      if (nvram) {
        await copyFile(nvramPath, join(staging, 'nvram.raw'));
        members.push('nvram.raw');
      }
      const tpm: string[] = [];
      if (rec.spec.tpm) {
        await mkdir(join(staging, 'tpm'), { mode: 0o700 });
        const dir = join(deps.tpmRoot, rec.id);
        for (const name of (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock') && TPM_FILE.test(n)).sort()) {
          await copyFile(join(dir, name), join(staging, 'tpm', name));
          tpm.push(name);
          members.push(`tpm/${name}`);
        }
      }
      const manifest: ExportManifest = { format: EXPORT_FORMAT, version: EXPORT_VERSION, createdAt: new Date().toISOString(), vm: rec.name, vmId: rec.id, spec: rec.spec, disks, nvram, tpm };
      await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
      ctx?.progress({ phase: 'writing the archive', percent: 95 });
      await runTool('tar', ['--create', '--format=gnu', '--file', partial, '--directory', staging, '--', ...members], undefined, ctx?.signal);
      await rename(partial, file);
      const size = (await stat(file)).size;
      return { vm: rec.name, file, sizeBytes: size, disks: disks.map((d) => ({ id: d.id, sizeBytes: d.sizeBytes })), live, durationMs: Math.round(performance.now() - t0) };
    } finally {
      // The marker stays if the staging directory does (the next start removes it).
      if (await rm(staging, { recursive: true, force: true }).then(() => true, () => false)) await transfer.end();
    }
  });
}

// ---- import --------------------------------------------------------------------

/** The archive's members, checked: only Hangar's names, each once. */
export function checkMembers(names: string[]): { disks: string[]; nvram: boolean; tpm: string[] } {
  const seen = new Set<string>();
  const out = { disks: [] as string[], nvram: false, tpm: [] as string[] };
  for (const raw of names) {
    const n = raw;
    if (n.startsWith('/') || n.split('/').some((p) => p === '..' || p === '.') || n.includes('\\')) {
      throw new HangarError('UNSAFE_PATH', `The archive has a member "${n}" that would land outside the import directory: it is not a Hangar export.`);
    }
    if (n === 'disks/' || n === 'tpm/') continue;
    if (seen.has(n)) throw new HangarError('EXPORT_INVALID', `The archive holds "${n}" twice.`);
    seen.add(n);
    let m: RegExpExecArray | null;
    if (n === MANIFEST) continue;
    if (n === 'nvram.raw') out.nvram = true;
    else if ((m = /^disks\/(.+)\.qcow2$/.exec(n)) && DISK_ID.test(m[1]!)) out.disks.push(m[1]!);
    else if ((m = /^tpm\/(.+)$/.exec(n)) && TPM_FILE.test(m[1]!)) out.tpm.push(m[1]!);
    else throw new HangarError('EXPORT_INVALID', `The archive has a member "${n}" that is no part of a Hangar export.`);
  }
  if (!seen.has(MANIFEST)) throw new HangarError('EXPORT_INVALID', `The archive has no ${MANIFEST}: it is not a Hangar export.`);
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the manifest against the members. */
export function checkManifest(data: unknown, members: { disks: string[]; nvram: boolean; tpm: string[] }): ExportManifest {
  const bad = (why: string) => new HangarError('EXPORT_INVALID', `${MANIFEST} is not valid: ${why}.`);
  if (!isObj(data) || data.format !== EXPORT_FORMAT) throw bad(`its format is not "${EXPORT_FORMAT}"`);
  if (data.version !== EXPORT_VERSION) throw bad(`version ${String(data.version)} is not one this Hangar reads (${EXPORT_VERSION})`);
  if (typeof data.vm !== 'string' || typeof data.vmId !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(data.vmId)) throw bad('vm and vmId must be names');
  const spec = data.spec;
  if (!isObj(spec) || !Array.isArray(spec.disks) || !Array.isArray(spec.nics) || !spec.disks.every(isObj) || !spec.nics.every(isObj)) throw bad('spec must be a VM spec with disks and nics');
  if (!Array.isArray(data.disks)) throw bad('disks must be a list');
  const ids = new Set<string>();
  for (const d of data.disks as unknown[]) {
    if (!isObj(d) || typeof d.id !== 'string' || !DISK_ID.test(d.id) || d.format !== 'qcow2' || !Number.isSafeInteger(d.sizeBytes) || (d.sizeBytes as number) <= 0) throw bad('each disk needs an id, format qcow2 and a size');
    if (d.pool !== undefined && typeof d.pool !== 'string') throw bad(`disk ${d.id}'s pool must be a name`);
    if (ids.has(d.id)) throw bad(`disk ${d.id} is listed twice`);
    ids.add(d.id);
  }
  const specIds = (spec.disks as Array<Record<string, unknown>>).map((d) => d.id);
  if (specIds.length !== ids.size || !specIds.every((id) => typeof id === 'string' && ids.has(id))) throw bad('its disks are not the spec\'s disks');
  if (members.disks.length !== ids.size || !members.disks.every((id) => ids.has(id))) throw bad('the archive\'s disks/ members are not the disks it lists');
  if (typeof data.nvram !== 'boolean' || data.nvram !== members.nvram) throw bad('nvram does not match the archive\'s nvram.raw');
  if (!Array.isArray(data.tpm) || data.tpm.length !== members.tpm.length || !members.tpm.every((n) => (data.tpm as unknown[]).includes(n))) throw bad('tpm does not match the archive\'s tpm/ members');
  return data as unknown as ExportManifest;
}

/** A disk from an archive must be a qcow2 of the declared size referring to no other file. */
export async function checkDiskImage(path: string, id: string, sizeBytes: number): Promise<void> {
  // The header first, so QEMU never opens a file an image names.
  const fh = await open(path, 'r');
  const head = Buffer.alloc(80);
  try {
    await fh.read(head, 0, 80, 0);
  } finally {
    await fh.close();
  }
  if (head.readUInt32BE(0) !== 0x514649fb) throw new HangarError('EXPORT_INVALID', `Disk ${id} in the archive is not a qcow2 image.`);
  if (head.readBigUInt64BE(8) !== 0n) throw new HangarError('UNSAFE_IMAGE', `Disk ${id} in the archive refers to a backing file: an export holds flattened disks only.`);
  if (head.readUInt32BE(4) >= 3 && (head.readBigUInt64BE(72) & 4n) !== 0n) throw new HangarError('UNSAFE_IMAGE', `Disk ${id} in the archive keeps its data in an external file: an export holds self-contained disks only.`);
  let info: { format?: string; 'virtual-size'?: number; 'backing-filename'?: string; 'format-specific'?: { data?: { 'data-file'?: string } } };
  try {
    info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', 'qcow2', path])).stdout) as typeof info;
  } catch (e) {
    throw new HangarError('EXPORT_INVALID', `Disk ${id} in the archive is not a readable qcow2 image: ${errorText(e)}`);
  }
  if (info['backing-filename'] !== undefined) throw new HangarError('UNSAFE_IMAGE', `Disk ${id} in the archive refers to a backing file "${info['backing-filename']}": an export holds flattened disks only.`);
  if (info['format-specific']?.data?.['data-file'] !== undefined) throw new HangarError('UNSAFE_IMAGE', `Disk ${id} in the archive keeps its data in an external file: an export holds self-contained disks only.`);
  if (info['virtual-size'] !== sizeBytes) throw new HangarError('EXPORT_INVALID', `Disk ${id} in the archive is ${String(info['virtual-size'])} bytes, not the ${sizeBytes} its manifest says.`);
}

/** At daemon start: removes what imports a killed daemon was extracting (older than `before`). */
export async function sweepImportStaging(root: string, before: number): Promise<void> {
  for (const n of await readdir(root).catch(() => [] as string[])) {
    const st = await stat(join(root, n)).catch(() => undefined);
    if (n.startsWith('import-') && st && st.mtimeMs < before) await rm(join(root, n), { recursive: true, force: true });
  }
}

export async function importVm(deps: ExportDeps, input: { file: string; as?: string }, ctx?: OperationContext): Promise<VmView> {
  const file = await checkImportSource(input.file);
  ctx?.progress({ phase: 'checking the archive', percent: 0 });
  let listing: string;
  try {
    listing = (await run('tar', ['--list', '--file', file], { maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    throw new HangarError('EXPORT_INVALID', `${file} is not a tar archive: ${errorText(e)}`);
  }
  const members = checkMembers(listing.split('\n').filter((l) => l !== ''));
  const transfer = await deps.inFlight.begin('import', file);
  const staging = join(deps.stagingRoot, `import-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    const names = [MANIFEST, ...members.disks.map((d) => `disks/${d}.qcow2`), ...(members.nvram ? ['nvram.raw'] : []), ...members.tpm.map((t) => `tpm/${t}`)];
    ctx?.progress({ phase: 'extracting', percent: 5 });
    await runTool('tar', ['--extract', '--file', file, '--directory', staging, '--no-same-owner', '--no-same-permissions', '--', ...names], undefined, ctx?.signal);
    for (const n of names) {
      const st = await lstat(join(staging, n)).catch(() => undefined);
      if (!st?.isFile() || st.nlink !== 1) throw new HangarError('UNSAFE_PATH', `The archive's member "${n}" is not a plain file (a link?): it is not a Hangar export.`);
    }
    if ((await stat(join(staging, MANIFEST))).size > 16 << 20) throw new HangarError('EXPORT_INVALID', `${MANIFEST} is too large.`);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(staging, MANIFEST), 'utf8'));
    } catch (e) {
      throw new HangarError('EXPORT_INVALID', `${MANIFEST} is not JSON: ${errorText(e)}`);
    }
    const m = checkManifest(json, members);
    for (const d of m.disks) await checkDiskImage(join(staging, 'disks', `${d.id}.qcow2`), d.id, d.sizeBytes);
    ctx?.progress({ phase: 'making the VM', percent: 60 });
    return await materializeVm(deps, {
      vm: m.vm, vmId: m.vmId, spec: m.spec, disks: m.disks,
      ...(m.nvram && { nvram: () => readFile(join(staging, 'nvram.raw')) }),
      ...(m.tpm.length && { tpm: () => Promise.all(m.tpm.map(async (name) => ({ name, data: await readFile(join(staging, 'tpm', name)) }))) }),
    }, input.as, 'import', async (d, vol) => {
      const src = join(staging, 'disks', `${d.id}.qcow2`);
      // The extracted file becomes the volume's file, with the blank one's owner and mode.
      const blank = await stat(vol.path);
      await chown(src, blank.uid, blank.gid);
      await chmod(src, blank.mode & 0o7777);
      await rename(src, vol.path).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EXDEV') throw e;
        const tmp = await transfer.path('file', (token) => `${vol.path}.${token}.import`);
        try {
          await copyFile(src, tmp, fsConstants.COPYFILE_EXCL);
          await rename(tmp, vol.path);
        } catch (err) {
          // EEXIST: a file of that name was there already, so it is not ours.
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await rm(tmp, { force: true }).catch(() => undefined);
          throw err;
        }
      });
    }, (vol, vm) => transfer.volume({ pool: vol.pool, name: vol.name, vm }));
  } finally {
    await rm(staging, { recursive: true, force: true });
    await transfer.end();
  }
}
