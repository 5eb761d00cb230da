/**
 * The image import engine: fetch (HTTP(S) with resume, or a local file), verify the
 * SHA-256, unpack OVA archives, refuse unsafe images, convert to qcow2, and only then
 * make the result visible in the destination directory with an atomic link.
 *
 * Staging layout inside `workDir` (private to the importer):
 *   <key>.part, <key>.part.json   a download and how to resume it (key = hash of url+sha256)
 *   job-XXXXXX/                   one import's scratch space (copies, unpacked OVA, converted disks)
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, open, readdir, readFile, rm, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join, posix, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { KeyedMutex } from '../../util/mutex.js';
import { killOrphanQemuImg } from '../../util/orphans.js';
import { download, redactUrl, removePart } from './download.js';
import { errorText, isHangarError } from '../../errors/errors.js';
import { ImportError, abortedError, errnoCode, noSpaceError, throwIfAborted, toImportError, type ImportErrorCode } from './errors.js';
import { parseManifest, parseOvf } from './ovf.js';
import { ProgressReporter, type ImportProgress } from './progress.js';
import { convertImage } from '../../storage/qemu-img.js';
import { checkInfo, checkSniffed, isIso9660, isTarHeader, readImageInfo, sniff, tarChecksumOk, type SourceFormat } from './inspect.js';
import { extractTar, safeEntryName, type TarEntry } from './tar.js';
import { pathExists } from '../../util/files.js';

export type { ImportProgress } from './progress.js';

export interface ImportSource {
  /** An http:// or https:// URL. */
  url?: string;
  /** An absolute path to a regular file. */
  file?: string;
}

export interface ImportOptions {
  /** Expected hex SHA-256 of the artifact as fetched (before unpacking or conversion). Required for URLs unless allowUnverified. */
  sha256?: string;
  allowUnverified?: boolean;
  /** Throttled to about 10 calls a second; each phase's first event and its 100% always arrive. */
  onProgress?: (p: ImportProgress) => void;
  /** Cancels the import: everything staged is removed and the promise rejects with an AbortError (code ABORTED). */
  signal?: AbortSignal;
  /** Private staging directory on the same filesystem as destDir. */
  workDir: string;
  /** Where the result appears, only once verified and converted. */
  destDir: string;
  /** Base name of the result, without extension: [a-z0-9][a-z0-9._-]*. */
  destName: string;
  qemuImg?: string;
  /** Longest silence tolerated from an HTTP server (connecting, waiting for headers, between data). Default 60 s. */
  idleTimeoutMs?: number;
}

export interface ImportResult {
  /** The (first) imported disk: `<destDir>/<destName>.qcow2`; an ISO: `<destDir>/<destName>.iso`. */
  path: string;
  /** `iso`: an ISO 9660 image (installer media), kept as it is. */
  format: 'qcow2' | 'iso';
  virtualSizeBytes: number;
  actualSizeBytes: number;
  /** SHA-256 of the artifact as fetched. */
  sha256: string;
  /** The detected format of the source: raw, qcow2, vmdk, vdi, vhdx, vpc — or `ova`. */
  sourceFormat: string;
  /** For an OVA: the descriptor's name inside the archive, every imported disk in OVF order (disks[0] === path), and the descriptor's text (checked against the manifest). */
  ova?: { ovfName: string; disks: string[]; descriptor: string };
}

const NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const SHA256_RE = /^[0-9a-f]{64}$/i;
const partLocks = new KeyedMutex();
/** Job directories in use by this process, so that cleanup leaves them alone. */
const activeJobs = new Set<string>();
const activeParts = new Set<string>();

function fail(code: ImportErrorCode, message: string, cause?: unknown): ImportError {
  return new ImportError(code, message, cause === undefined ? undefined : { cause });
}

/** The staging key of a download: stable for the same URL and expected checksum. */
export function downloadKey(url: string, sha256: string | undefined): string {
  return createHash('sha256').update(`${url}\n${(sha256 ?? '').toLowerCase()}`).digest('hex').slice(0, 32);
}

/** `<destName>.qcow2` for the first disk, `<destName>-disk<N>.qcow2` for the N-th further disk of an OVA. */
export function destFileName(destName: string, index: number): string {
  return index === 0 ? `${destName}.qcow2` : `${destName}-disk${index}.qcow2`;
}

interface Job {
  opts: ImportOptions;
  qemuImg: string;
  signal?: AbortSignal;
  progress: ProgressReporter;
  jobDir: string;
  stage: 'prepare' | 'source' | 'unpack' | 'convert' | 'finalize';
}

function validate(source: ImportSource, opts: ImportOptions): { url?: URL; file?: string; sha?: string } {
  if (!opts || typeof opts !== 'object') throw fail('BAD_OPTIONS', 'importImage needs options (workDir, destDir, destName).');
  if (typeof opts.workDir !== 'string' || !isAbsolute(opts.workDir)) throw fail('BAD_OPTIONS', 'workDir must be an absolute path.');
  if (typeof opts.destDir !== 'string' || !isAbsolute(opts.destDir)) throw fail('BAD_OPTIONS', 'destDir must be an absolute path.');
  if (resolve(opts.workDir) === resolve(opts.destDir)) throw fail('BAD_OPTIONS', 'workDir and destDir must be different directories.');
  if (typeof opts.destName !== 'string' || !NAME_RE.test(opts.destName) || opts.destName.length > 200) {
    throw fail('BAD_OPTIONS', `The image name "${String(opts.destName)}" is not valid: use lower-case letters, digits, ".", "_" and "-", starting with a letter or digit.`);
  }
  let sha: string | undefined;
  if (opts.sha256 !== undefined) {
    const s = opts.sha256.trim().replace(/^sha256:/i, '');
    if (!SHA256_RE.test(s)) throw fail('BAD_OPTIONS', 'The expected SHA-256 must be 64 hexadecimal digits.');
    sha = s.toLowerCase();
  }
  const hasUrl = source?.url !== undefined;
  const hasFile = source?.file !== undefined;
  if (hasUrl === hasFile) throw fail('BAD_SOURCE', 'Give exactly one source: a URL or a file.');
  if (hasUrl) {
    let url: URL;
    try {
      url = new URL(String(source.url));
    } catch {
      throw fail('BAD_SOURCE', `"${String(source.url)}" is not a valid URL; give an http:// or https:// URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw fail('BAD_SOURCE', `${url.protocol} URLs cannot be imported; give an http:// or https:// URL, or a local file path.`);
    }
    if (!sha && !opts.allowUnverified) {
      throw fail('BAD_OPTIONS', 'Give the expected SHA-256 of the download (or explicitly allow an unverified import).');
    }
    return { url, sha };
  }
  const file = String(source.file);
  if (!isAbsolute(file)) throw fail('BAD_SOURCE', `The source file must be an absolute path, not "${file}".`);
  return { file, sha };
}

async function sameFilesystem(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  return sa.dev === sb.dev;
}

/** statfs f_type of procfs, sysfs, debugfs, securityfs, tracefs, cgroup and cgroup2. */
const PSEUDO_FS_TYPES = new Set([0x9fa0, 0x62656572, 0x64626720, 0x73636673, 0x74726163, 0x27e0eb, 0x63677270]);

async function ensureSpace(dir: string, bytes: number, what: string): Promise<void> {
  const fs = await statfs(dir).catch(() => undefined);
  if (fs && fs.bavail * fs.bsize < bytes) throw noSpaceError(`${what} (${bytes} bytes needed, ${fs.bavail * fs.bsize} free)`);
}


async function assertFree(destDir: string, names: string[]): Promise<void> {
  for (const n of names) {
    if (await pathExists(join(destDir, n))) {
      throw fail('DEST_EXISTS', `${join(destDir, n)} already exists; choose another image name or delete the existing image.`);
    }
  }
}

/** Imports a disk image (or an OVA appliance) as qcow2 into destDir. */
export async function importImage(source: ImportSource, opts: ImportOptions): Promise<ImportResult> {
  const { url, file, sha } = validate(source, opts);
  const signal = opts.signal;
  throwIfAborted(signal);
  const job: Job = {
    opts,
    qemuImg: opts.qemuImg ?? 'qemu-img',
    signal,
    progress: new ProgressReporter(opts.onProgress),
    jobDir: '',
    stage: 'prepare',
  };
  try {
    await mkdir(opts.workDir, { recursive: true, mode: 0o700 });
    await mkdir(opts.destDir, { recursive: true });
    if (!(await sameFilesystem(opts.workDir, opts.destDir))) {
      throw fail('BAD_OPTIONS', `The staging directory ${opts.workDir} must be on the same filesystem as ${opts.destDir}, so that the result can appear atomically.`);
    }
    await assertFree(opts.destDir, [destFileName(opts.destName, 0)]);
    job.jobDir = await mkdtemp(join(opts.workDir, 'job-'));
    activeJobs.add(job.jobDir);
    if (url) return await importFromUrl(job, url, sha);
    return await importFromFile(job, file ?? '', sha);
  } catch (e) {
    throw toImportError(e, signal, (err) => {
      const code: ImportErrorCode =
        job.stage === 'source' || job.stage === 'unpack' ? 'BAD_SOURCE' : job.stage === 'convert' ? 'CONVERT_FAILED' : 'BAD_OPTIONS';
      return fail(code, `The import failed while it was at the ${job.stage} step: ${errorText(err)}. Nothing was imported.`, err);
    });
  } finally {
    if (job.jobDir) {
      await rm(job.jobDir, { recursive: true, force: true }).catch(() => undefined);
      activeJobs.delete(job.jobDir);
    }
  }
}

function checksumMismatch(expected: string, actual: string, what: string): ImportError {
  return new ImportError(
    'CHECKSUM_MISMATCH',
    `The SHA-256 of ${what} is ${actual}, but ${expected} was expected; nothing was imported. Check the checksum you gave, or the source (it may have changed or been tampered with).`,
    { details: { expected, actual } },
  );
}

async function importFromUrl(job: Job, url: URL, sha: string | undefined): Promise<ImportResult> {
  const key = downloadKey(url.href, sha);
  const partPath = join(job.opts.workDir, `${key}.part`);
  const metaPath = join(job.opts.workDir, `${key}.part.json`);
  return partLocks.run(partPath, async () => {
    throwIfAborted(job.signal);
    activeParts.add(partPath);
    try {
      job.stage = 'source';
      const dl = await download({
        url,
        partPath,
        metaPath,
        verifiedLater: sha !== undefined,
        signal: job.signal,
        idleTimeoutMs: job.opts.idleTimeoutMs,
        onProgress: (done, total, o) => job.progress.report({ phase: 'download', bytesDone: done, bytesTotal: total, message: o?.message }, { restart: o?.restart }),
      });
      const what = `the download from ${redactUrl(url)}`;
      try {
        verify(job, sha, dl.sha256, dl.bytes, what);
        const name = posix.basename(url.pathname) || url.hostname;
        return await importArtifact(job, partPath, name, dl.sha256);
      } finally {
        // Verified (or rejected) downloads are never resumed: the part goes, whatever happens next.
        await removePart(partPath, metaPath);
      }
    } finally {
      activeParts.delete(partPath);
    }
  });
}

function verify(job: Job, expected: string | undefined, actual: string, bytes: number, what: string): void {
  throwIfAborted(job.signal);
  if (expected !== undefined && expected !== actual) throw checksumMismatch(expected, actual, what);
  job.progress.report(
    { phase: 'verify', bytesDone: bytes, bytesTotal: bytes, percent: 100, message: expected ? 'SHA-256 matches' : 'not verified: no checksum was given' },
    { force: true },
  );
}

async function importFromFile(job: Job, file: string, sha: string | undefined): Promise<ImportResult> {
  job.stage = 'source';
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw fail('BAD_SOURCE', `Cannot open ${file}: ${errorText(e)}; give the absolute path of a readable image file.`, e);
  }
  let size: number;
  let isOva: boolean;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw fail('BAD_SOURCE', `${file} is not a regular file; give the path of an image file.`);
    // Kernel pseudo-files (/proc, /sys) look like regular files but are process or kernel state, not disks.
    const fsType = (await statfs(file).catch(() => undefined))?.type;
    if (fsType !== undefined && PSEUDO_FS_TYPES.has(Number(fsType))) {
      throw fail('BAD_SOURCE', `${file} is a kernel pseudo-file (on /proc or /sys), not a disk image; give the path of an image file.`);
    }
    if (st.size === 0) throw fail('BAD_SOURCE', `${file} is empty; give the path of an image file.`);
    size = st.size;
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    isOva = bytesRead === 512 && (isTarHeader(head) || (/\.ova$/i.test(file) && tarChecksumOk(head)));
    if (isOva) {
      await fh.close();
      // An OVA is read once: unpacked into private copies while its SHA-256 is computed.
      return await importOva(job, file, basename(file), size, { expected: sha });
    }
    // Anything else is copied into the private staging area first, with its SHA-256, so that
    // what is checked is exactly what gets converted, whatever happens to the original.
    await ensureSpace(job.jobDir, size, 'in the staging directory to copy the image');
    const copy = join(job.jobDir, 'source');
    const hash = createHash('sha256');
    let done = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        done += chunk.length;
        job.progress.report({ phase: 'download', bytesDone: done, bytesTotal: size, message: 'copying the file' });
        cb(null, chunk);
      },
    });
    await pipeline(
      createReadStream('', { fd: fh, start: 0, highWaterMark: 1 << 20 }),
      counter,
      createWriteStream(copy, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }),
      { signal: job.signal },
    );
    job.progress.report({ phase: 'download', bytesDone: done, bytesTotal: done, message: 'copied the file' }, { force: true });
    const actual = hash.digest('hex');
    verify(job, sha, actual, done, file);
    return await importArtifact(job, copy, basename(file), actual);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** A verified artifact in staging: an OVA archive, or a single disk image. */
async function importArtifact(job: Job, path: string, name: string, sha256: string): Promise<ImportResult> {
  throwIfAborted(job.signal);
  const fh = await open(path, 'r');
  let isOva = false;
  let size = 0;
  try {
    size = (await fh.stat()).size;
    const head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    isOva = bytesRead === 512 && (isTarHeader(head) || (/\.ova$/i.test(name) && tarChecksumOk(head)));
  } finally {
    await fh.close();
  }
  if (isOva) return importOva(job, path, name, size, { verified: sha256 });
  if (await isIso9660(path)) return importIso(job, path, sha256);
  if (/\.iso$/i.test(name)) {
    throw fail('BAD_SOURCE', `${name} is named like an ISO but is not one: it has no ISO 9660 signature (CD001 at offset 0x8001). Nothing was imported.`);
  }
  const disk = await inspectDisk(job, path, name);
  const [out] = await convertAll(job, [disk]);
  const final = await finalize(job, out ? [out] : []);
  const first = final[0];
  if (!first) throw fail('CONVERT_FAILED', 'The conversion produced no image.');
  return { ...first, sha256, sourceFormat: disk.format };
}

/** An ISO 9660 image: kept byte for byte (QEMU reads it raw, read-only), made visible as `<destName>.iso`. */
async function importIso(job: Job, path: string, sha256: string): Promise<ImportResult> {
  job.stage = 'finalize';
  throwIfAborted(job.signal);
  const dest = join(job.opts.destDir, `${job.opts.destName}.iso`);
  await assertFree(job.opts.destDir, [`${job.opts.destName}.iso`]);
  await fsyncPath(path);
  const st = await stat(path);
  try {
    await link(path, dest);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') throw fail('DEST_EXISTS', `${dest} already exists; choose another image name or delete the existing image.`, e);
    throw e;
  }
  await fsyncPath(job.opts.destDir);
  job.progress.report({ phase: 'finalize', bytesDone: st.size, bytesTotal: st.size, percent: 100, message: 'done' }, { force: true });
  return { path: dest, format: 'iso', virtualSizeBytes: st.size, actualSizeBytes: st.blocks * 512, sha256, sourceFormat: 'iso' };
}

interface Inspected {
  path: string;
  label: string;
  format: SourceFormat;
  virtualSize: number;
}

async function inspectDisk(job: Job, path: string, label: string): Promise<Inspected> {
  job.stage = 'convert';
  throwIfAborted(job.signal);
  const sniffed = await sniff(path);
  checkSniffed(sniffed, label);
  const info = await readImageInfo(job.qemuImg, path, { signal: job.signal });
  const format = checkInfo(info, path, label, sniffed);
  return { path, label, format, virtualSize: info.virtualSizeBytes };
}

interface Converted {
  tmp: string;
  virtualSize: number;
}

async function convertAll(job: Job, disks: Inspected[]): Promise<Converted[]> {
  job.stage = 'convert';
  const total = disks.reduce((s, d) => s + d.virtualSize, 0);
  let before = 0;
  const out: Converted[] = [];
  for (const [i, d] of disks.entries()) {
    throwIfAborted(job.signal);
    const tmp = join(job.jobDir, `out-${i}.qcow2`);
    const message = disks.length > 1 ? `converting disk ${i + 1} of ${disks.length} (${d.format})` : `converting ${d.format} to qcow2`;
    const base = before;
    job.progress.report({ phase: 'convert', bytesDone: base, bytesTotal: total, message }, { force: true });
    await convertToQcow2(job.qemuImg, { path: d.path, format: d.format }, tmp, {
      signal: job.signal,
      label: d.label,
      onPercent: (pct) => {
        const bytesDone = Math.round(base + (d.virtualSize * pct) / 100);
        job.progress.report({ phase: 'convert', bytesDone, bytesTotal: total, message });
      },
    });
    before += d.virtualSize;
    job.progress.report({ phase: 'convert', bytesDone: before, bytesTotal: total, message });
    out.push({ tmp, virtualSize: d.virtualSize });
  }
  job.progress.report({ phase: 'convert', bytesDone: total, bytesTotal: total, percent: 100, message: 'converted' }, { force: true });
  return out;
}

/** `qemu-img convert -p -f <format> -O qcow2 src dst`: a full pool is NO_SPACE, anything else CONVERT_FAILED. */
async function convertToQcow2(
  qemuImg: string,
  src: { path: string; format: SourceFormat },
  dst: string,
  opts: { signal?: AbortSignal; onPercent?: (pct: number) => void; label: string },
): Promise<void> {
  try {
    await convertImage(src, { path: dst, format: 'qcow2' }, {
      binary: qemuImg, what: `converting ${opts.label}`,
      ...(opts.signal && { signal: opts.signal }), ...(opts.onPercent && { onPercent: opts.onPercent }),
    });
  } catch (e) {
    if (opts.signal?.aborted) throw abortedError(opts.signal);
    if (isHangarError(e) && e.code === 'STORAGE_FULL') throw noSpaceError('for the converted image', e);
    throw new ImportError('CONVERT_FAILED', `Converting ${opts.label} to qcow2 failed: ${errorText(e)}. The image may be damaged; check it with qemu-img check.`, { cause: e });
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes the converted disks visible: fsync, then link (never replacing anything), then fsync the directory. */
async function finalize(job: Job, outs: Converted[]): Promise<Array<Omit<ImportResult, 'sha256' | 'sourceFormat'>>> {
  job.stage = 'finalize';
  throwIfAborted(job.signal);
  const destDir = job.opts.destDir;
  const names = outs.map((_, i) => destFileName(job.opts.destName, i));
  await assertFree(destDir, names);
  const infos: Array<{ virtualSize: number; actualSize: number }> = [];
  let totalBytes = 0;
  for (const o of outs) {
    const info = await readImageInfo(job.qemuImg, o.tmp, { signal: job.signal, format: 'qcow2' });
    if (info.format !== 'qcow2' || info.virtualSizeBytes !== o.virtualSize) {
      throw fail('CONVERT_FAILED', `The converted image has ${info.virtualSizeBytes} bytes instead of ${o.virtualSize}; nothing was imported.`);
    }
    await fsyncPath(o.tmp);
    const st = await stat(o.tmp);
    const actualSize = st.blocks * 512;
    totalBytes += st.size;
    infos.push({ virtualSize: info.virtualSizeBytes, actualSize });
  }
  job.progress.report({ phase: 'finalize', bytesDone: 0, bytesTotal: totalBytes, message: 'making the image visible' }, { force: true });
  throwIfAborted(job.signal);
  const linked: string[] = [];
  try {
    for (const [i, o] of outs.entries()) {
      const dest = join(destDir, names[i] ?? '');
      try {
        await link(o.tmp, dest);
      } catch (e) {
        if (errnoCode(e) === 'EEXIST') throw fail('DEST_EXISTS', `${dest} already exists; choose another image name or delete the existing image.`, e);
        throw e;
      }
      linked.push(dest);
    }
    await fsyncPath(destDir);
  } catch (e) {
    for (const p of linked) await unlink(p).catch(() => undefined);
    throw e;
  }
  job.progress.report({ phase: 'finalize', bytesDone: totalBytes, bytesTotal: totalBytes, percent: 100, message: 'done' }, { force: true });
  return linked.map((path, i) => ({
    path,
    format: 'qcow2' as const,
    virtualSizeBytes: infos[i]?.virtualSize ?? 0,
    actualSizeBytes: infos[i]?.actualSize ?? 0,
  }));
}

/**
 * Unpacks an OVA and imports every disk its OVF lists. `sha` is either the digest of an
 * archive verified already (a download), or the expected digest to check while unpacking
 * (a local file, read only once).
 */
async function importOva(job: Job, archive: string, name: string, size: number, sha: { verified: string } | { expected: string | undefined }): Promise<ImportResult> {
  const verifyOuter = !('verified' in sha);
  job.stage = 'unpack';
  const unpackDir = join(job.jobDir, 'ova');
  await mkdir(unpackDir, { mode: 0o700 });
  await ensureSpace(job.jobDir, size, 'in the staging directory to unpack the OVA');
  const outer = createHash('sha256');
  let manifestAlgos: string[] | undefined;
  const entries = await extractTar(archive, unpackDir, {
    signal: job.signal,
    onEntry: async (e) => {
      // Usually the manifest comes right after the OVF: from then on, hash only what it uses.
      if (/\.mf$/i.test(e.name) && manifestAlgos === undefined && e.size <= 1 << 20) {
        manifestAlgos = [...new Set(parseManifest(await readFile(e.path, 'utf8')).map((m) => m.algorithm))];
      }
    },
    onBytes: (done, total) => job.progress.report({ phase: 'unpack', bytesDone: done, bytesTotal: total, message: `unpacking ${name}` }),
    onRawChunk: verifyOuter ? (c) => outer.update(c) : undefined,
    hashAlgorithms: (entryName) => (/\.(mf|ovf|cert)$/i.test(entryName) ? [] : (manifestAlgos ?? ['sha1', 'sha256'])),
  });
  job.progress.report({ phase: 'unpack', bytesDone: size, bytesTotal: size, percent: 100, message: `unpacked ${entries.length} files` }, { force: true });
  let sha256: string;
  if ('verified' in sha) {
    sha256 = sha.verified;
  } else {
    sha256 = outer.digest('hex');
    verify(job, sha.expected, sha256, size, archive);
  }
  const ovfEntry = entries.find((e) => /\.ovf$/i.test(e.name));
  if (!ovfEntry) throw fail('BAD_SOURCE', `${name} contains no .ovf descriptor; it is not an OVA appliance.`);
  const byName = new Map(entries.map((e) => [e.name, e]));

  // The manifest, if any, must match every file it lists.
  const mfEntry = entries.find((e) => /\.mf$/i.test(e.name));
  if (mfEntry) {
    if (mfEntry.size > 1 << 20) throw fail('BAD_SOURCE', 'The OVA manifest is implausibly large; the OVA is damaged.');
    const manifest = parseManifest(await readFile(mfEntry.path, 'utf8'));
    for (const m of manifest) {
      const entryName = safeEntryName(posix.join(posix.dirname(mfEntry.name), m.file));
      const entry = entryName === null ? undefined : byName.get(entryName);
      if (!entry) throw fail('BAD_SOURCE', `The OVA manifest lists "${m.file}", which the archive does not contain; the OVA is damaged.`);
      const digest = entry.hashes[m.algorithm] ?? (await hashFile(entry.path, m.algorithm, job.signal));
      if (digest !== m.digest) {
        throw new ImportError('CHECKSUM_MISMATCH', `The OVA manifest says ${m.algorithm.toUpperCase()}(${m.file}) = ${m.digest}, but the file has ${digest}; the OVA is damaged or was modified. Download or export it again.`, {
          details: { file: m.file, expected: m.digest, actual: digest },
        });
      }
    }
  }

  const ovfText = await readFile(ovfEntry.path, 'utf8');
  const ovf = parseOvf(ovfText);
  const withFiles = ovf.disks.filter((d) => d.file !== undefined);
  if (withFiles.length === 0) throw fail('BAD_SOURCE', `The OVF descriptor ${ovfEntry.name} lists no disk files; there is nothing to import.`);
  await assertFree(job.opts.destDir, withFiles.map((_, i) => destFileName(job.opts.destName, i)));

  const inspected: Inspected[] = [];
  for (const [i, d] of withFiles.entries()) {
    const f = d.file;
    if (!f) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(f.href)) {
      throw fail('UNSUPPORTED_FORMAT', `The OVF refers to a remote disk (${f.href}); only disks inside the OVA can be imported.`);
    }
    if (f.chunkSize !== undefined) throw fail('UNSUPPORTED_FORMAT', `The OVF stores ${f.href} in chunks, which is not supported; re-export the appliance without chunking.`);
    const entryName = safeEntryName(posix.join(posix.dirname(ovfEntry.name), f.href));
    const entry: TarEntry | undefined = entryName === null ? undefined : byName.get(entryName);
    if (!entry) throw fail('BAD_SOURCE', `The OVF refers to the disk "${f.href}", which the OVA does not contain; the OVA is damaged.`);
    let diskPath = entry.path;
    if (f.compression !== undefined && f.compression !== 'identity') {
      if (f.compression !== 'gzip') throw fail('UNSUPPORTED_FORMAT', `The OVF disk ${f.href} uses ${f.compression} compression, which is not supported; re-export it uncompressed.`);
      diskPath = join(job.jobDir, `disk-${i}.unpacked`);
      await pipeline(createReadStream(entry.path), createGunzip(), createWriteStream(diskPath, { flags: 'wx', mode: 0o600 }), { signal: job.signal });
      await rm(entry.path, { force: true });
    }
    inspected.push(await inspectDisk(job, diskPath, `the disk ${f.href} in ${name}`));
  }
  const outs = await convertAll(job, inspected);
  // The unpacked files are no longer needed: free their space before the final step.
  await rm(unpackDir, { recursive: true, force: true });
  const final = await finalize(job, outs);
  const first = final[0];
  if (!first) throw fail('CONVERT_FAILED', 'The conversion produced no image.');
  return { ...first, sha256, sourceFormat: 'ova', ova: { ovfName: ovfEntry.name, disks: final.map((f) => f.path), descriptor: ovfText } };
}

async function hashFile(path: string, algorithm: string, signal?: AbortSignal): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface CleanupResult {
  removed: string[];
  killed: number[];
}

/**
 * Tidies a staging directory after a crash: ends qemu-img processes left running on its
 * files (by pid, only those whose arguments name files in workDir and whose parent is not
 * this process), removes job directories not in use by this process, orphaned resume
 * metadata, and partial downloads older than maxPartAgeMs (default 7 days). Call it when
 * the daemon starts, before it starts imports.
 */
export async function cleanupImportStaging(workDir: string, opts: { maxPartAgeMs?: number; now?: number } = {}): Promise<CleanupResult> {
  const result: CleanupResult = { removed: [], killed: [] };
  const dir = resolve(workDir);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return result;
    throw e;
  }
  result.killed = await killOrphanQemuImg(dir);
  const maxAge = opts.maxPartAgeMs ?? 7 * 24 * 3600 * 1000;
  const now = opts.now ?? Date.now();
  const nameSet = new Set(names);
  for (const n of names) {
    const p = join(dir, n);
    let remove = false;
    if (/^job-/.test(n)) {
      remove = !activeJobs.has(p);
    } else if (n.endsWith('.part')) {
      if (activeParts.has(p)) continue;
      const st = await stat(p).catch(() => undefined);
      remove = !nameSet.has(`${n}.json`) || (st !== undefined && now - st.mtimeMs > maxAge);
      if (remove) {
        await rm(`${p}.json`, { force: true });
        result.removed.push(`${p}.json`);
      }
    } else if (n.endsWith('.part.json')) {
      remove = !nameSet.has(n.slice(0, -'.json'.length)) && !activeParts.has(p.slice(0, -'.json'.length));
    } else if (n.endsWith('.part.json.tmp')) {
      remove = !activeParts.has(p.slice(0, -'.json.tmp'.length));
    }
    if (remove) {
      await rm(p, { recursive: true, force: true });
      result.removed.push(p);
    }
  }
  return result;
}
