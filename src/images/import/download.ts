/**
 * Streaming HTTP(S) download into a `.part` file with SHA-256 computed on the fly,
 * bounded redirects, idle timeouts, and resume with a Range request where the server allows.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import { dirname } from 'node:path';
import { errorText } from '../../errors/errors.js';
import { ImportError, abortedError, errnoCode, isAbortLike, noSpaceError } from './errors.js';

export const MAX_REDIRECTS = 5;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const USER_AGENT = 'hangar-image-import/1';

/** What is remembered beside a `.part` file so that a later run can resume it safely. */
export interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  total?: number;
  acceptRanges: boolean;
}

export interface DownloadParams {
  url: URL;
  partPath: string;
  metaPath: string;
  /** Resume an existing part even without a validator (true when a sha256 will check the result). */
  verifiedLater: boolean;
  signal?: AbortSignal;
  idleTimeoutMs?: number;
  onProgress?: (done: number, total: number | undefined, opts?: { restart?: boolean; message?: string }) => void;
}

export interface DownloadResult {
  sha256: string;
  bytes: number;
  /** Bytes that were already on disk from an earlier run. */
  resumedFrom: number;
  /** Whether a Range request was sent. */
  rangeRequested: boolean;
}

/** A URL safe to show: credentials removed. */
export function redactUrl(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

/** A transfer that broke off (HTTP status, stall, short body); `resumable` if a retry can continue the partial file. */
class TransferError extends Error {
  constructor(message: string, readonly resumable: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}

async function readMeta(metaPath: string): Promise<PartMeta | undefined> {
  try {
    const parsed = JSON.parse(await readFile(metaPath, 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as PartMeta).url === 'string') return parsed as PartMeta;
  } catch {
    // missing or garbled: no resume
  }
  return undefined;
}

async function writeMeta(metaPath: string, meta: PartMeta): Promise<void> {
  const tmp = `${metaPath}.tmp`;
  await writeFile(tmp, JSON.stringify(meta), { mode: 0o600 });
  await rename(tmp, metaPath);
}

export async function removePart(partPath: string, metaPath: string): Promise<void> {
  await rm(partPath, { force: true });
  await rm(metaPath, { force: true });
  await rm(`${metaPath}.tmp`, { force: true });
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** Feeds an existing partial file into the hash (there is no way to persist a hash state). */
async function rehash(path: string, hash: Hash, signal: AbortSignal | undefined, onBytes: (n: number) => void): Promise<number> {
  let n = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20, signal });
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    hash.update(buf);
    n += buf.length;
    onBytes(n);
  }
  return n;
}

/** Responses whose connection was dropped for being idle too long. */
const stalled = new WeakSet<IncomingMessage>();

interface Response {
  res: IncomingMessage;
  finalUrl: URL;
}

function request(url: URL, headers: Record<string, string>, signal: AbortSignal | undefined, idleTimeoutMs: number, redirectsLeft: number): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    // node:https on first use: the daemon loads this module at start, it rarely downloads.
    const mod = url.protocol === 'https:' ? process.getBuiltinModule('node:https') : http;
    const req = mod.request(url, { method: 'GET', headers, signal, timeout: idleTimeoutMs });
    let current: IncomingMessage | undefined;
    req.on('timeout', () => {
      if (current) stalled.add(current);
      req.destroy(new TransferError(`no response from ${redactUrl(url)} for ${Math.round(idleTimeoutMs / 1000)} s`, true));
    });
    req.on('error', (e) => reject(e));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status)) {
        res.resume();
        const location = res.headers.location;
        if (!location) {
          reject(new ImportError('DOWNLOAD_FAILED', `${redactUrl(url)} answered ${status} without a Location; check the URL.`));
          return;
        }
        if (redirectsLeft <= 0) {
          reject(new ImportError('DOWNLOAD_FAILED', `Too many redirects (more than ${MAX_REDIRECTS}) starting from the image URL; give the final URL instead.`));
          return;
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          reject(new ImportError('DOWNLOAD_FAILED', `${redactUrl(url)} redirected to an invalid location; check the URL.`));
          return;
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          reject(new ImportError('BAD_SOURCE', `${redactUrl(url)} redirected to a ${next.protocol} URL; only http and https are allowed.`));
          return;
        }
        request(next, headers, signal, idleTimeoutMs, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      current = res;
      resolve({ res, finalUrl: url });
    });
    req.end();
  });
}

function parseContentRange(v: string | undefined): { start?: number; end?: number; total?: number } | undefined {
  if (!v) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(v.trim());
  if (!m) return undefined;
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    end: m[2] === undefined ? undefined : Number(m[2]),
    total: m[3] === undefined || m[3] === '*' ? undefined : Number(m[3]),
  };
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Downloads `url` into `partPath`. Resumes an existing part with `Range: bytes=N-` (and
 * If-Range with the stored validator); a 200 answer restarts from zero, a 206 whose
 * Content-Range does not start at N restarts too, a 416 with the part's full size means
 * the part is already complete. On a network failure the part is kept when the server
 * advertised ranges (so a re-run resumes); otherwise, and on any other failure, removed.
 */
export async function download(p: DownloadParams): Promise<DownloadResult> {
  const idle = p.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const progress = p.onProgress ?? (() => {});
  let keepPart = false;
  try {
    return await attempt(p, idle, progress, (keep) => {
      keepPart = keep;
    });
  } catch (e) {
    if (p.signal?.aborted || isAbortLike(e)) {
      await removePart(p.partPath, p.metaPath);
      throw abortedError(p.signal);
    }
    const code = errnoCode(e);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      await removePart(p.partPath, p.metaPath);
      throw noSpaceError('for the download', e);
    }
    if (e instanceof ImportError) {
      await removePart(p.partPath, p.metaPath);
      throw e;
    }
    const resumable = keepPart && !(e instanceof TransferError && !e.resumable);
    if (!resumable) await removePart(p.partPath, p.metaPath);
    throw new ImportError(
      'DOWNLOAD_FAILED',
      `Downloading ${redactUrl(p.url)} failed: ${errorText(e)}. ${resumable ? 'Import again to resume where it stopped.' : 'Check the URL and the network, then import again.'}`,
      { cause: e, details: { resumable } },
    );
  }
}

async function attempt(
  p: DownloadParams,
  idle: number,
  progress: NonNullable<DownloadParams['onProgress']>,
  setKeep: (keep: boolean) => void,
): Promise<DownloadResult> {
  let hash = createHash('sha256');
  let offset = 0;
  const meta = await readMeta(p.metaPath);
  const existing = await sizeOf(p.partPath);
  const canResume =
    existing !== undefined && existing > 0 && meta !== undefined && meta.url === p.url.href && meta.acceptRanges &&
    (p.verifiedLater || meta.etag !== undefined || meta.lastModified !== undefined);
  setKeep(canResume);
  if (canResume) {
    offset = await rehash(p.partPath, hash, p.signal, (n) => progress(n, meta.total, { message: 'checking the partial download' }));
  } else {
    await removePart(p.partPath, p.metaPath);
  }
  const resumedFrom = offset;

  const baseHeaders: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  const headers = { ...baseHeaders };
  if (offset > 0 && meta) {
    headers.range = `bytes=${offset}-`;
    if (meta.etag && !meta.etag.startsWith('W/')) headers['if-range'] = meta.etag;
    else if (meta.lastModified) headers['if-range'] = meta.lastModified;
  }
  const rangeRequested = headers.range !== undefined;

  let { res } = await request(p.url, headers, p.signal, idle, MAX_REDIRECTS);
  let status = res.statusCode ?? 0;
  let total: number | undefined;
  const restart = async (): Promise<void> => {
    offset = 0;
    hash = createHash('sha256');
    await removePart(p.partPath, p.metaPath);
    progress(0, undefined, { restart: true, message: 'the server cannot resume; downloading from the start' });
  };

  if (rangeRequested) {
    if (status === 206) {
      const cr = parseContentRange(headerString(res.headers['content-range']));
      if (cr?.start !== offset || (meta?.total !== undefined && cr.total !== undefined && cr.total !== meta.total)) {
        res.destroy();
        await restart();
        ({ res } = await request(p.url, baseHeaders, p.signal, idle, MAX_REDIRECTS));
        status = res.statusCode ?? 0;
      } else {
        total = cr.total;
      }
    } else if (status === 416) {
      const cr = parseContentRange(headerString(res.headers['content-range']));
      res.resume();
      if (cr?.total !== undefined && cr.total === offset) {
        // The part is already complete (an earlier run stopped after downloading it).
        progress(offset, offset);
        return { sha256: hash.digest('hex'), bytes: offset, resumedFrom, rangeRequested };
      }
      await restart();
      ({ res } = await request(p.url, baseHeaders, p.signal, idle, MAX_REDIRECTS));
      status = res.statusCode ?? 0;
    } else if (status === 200) {
      // The server ignored the Range header (or If-Range said the resource changed).
      await restart();
    }
  }

  if (status !== 200 && !(status === 206 && offset > 0)) {
    res.resume();
    const transient = status >= 500 || status === 408 || status === 429;
    throw new TransferError(`the server answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, transient && offset > 0);
  }

  const length = Number(headerString(res.headers['content-length']));
  if (status === 200) {
    total = Number.isFinite(length) && length >= 0 ? length : undefined;
  } else if (total === undefined && Number.isFinite(length)) {
    total = offset + length;
  }
  const acceptRanges = status === 206 || /\bbytes\b/i.test(headerString(res.headers['accept-ranges']) ?? '');
  const etag = headerString(res.headers.etag);
  const lastModified = headerString(res.headers['last-modified']);

  // Fail early when the download cannot fit.
  if (total !== undefined) {
    const fs = await statfs(dirname(p.partPath)).catch(() => undefined);
    if (fs && fs.bavail * fs.bsize < total - offset) {
      res.destroy();
      await removePart(p.partPath, p.metaPath);
      throw noSpaceError(`for the download (${total - offset} bytes needed, ${fs.bavail * fs.bsize} free)`);
    }
  }

  // Record how to resume before the first byte lands, so that even a killed process leaves a resumable pair.
  await writeMeta(p.metaPath, { url: p.url.href, etag, lastModified, total, acceptRanges });
  setKeep(acceptRanges);

  let done = offset;
  const h = hash;
  let prematureClose = false;
  res.on('aborted', () => {
    prematureClose = true;
  });
  try {
    let received = offset;
    done = await writeBody(res, p.partPath, offset, p.signal, (chunk) => {
      h.update(chunk);
      received += chunk.length;
      progress(received, total);
    });
  } catch (e) {
    if (p.signal?.aborted) throw e;
    const c = errnoCode(e);
    if (c === 'ENOSPC' || c === 'EDQUOT') throw e;
    const why = stalled.has(res)
      ? `no data arrived for ${Math.round(idle / 1000)} s`
      : prematureClose || c === 'ERR_STREAM_PREMATURE_CLOSE' || c === 'ECONNRESET' || c === 'ABORT_ERR'
        ? 'the connection closed before the end of the file'
        : errorText(e);
    throw new TransferError(why, true, { cause: e });
  }
  if (!res.complete) throw new TransferError('the connection closed before the end of the file', true);
  if (total !== undefined && done !== total) {
    throw new TransferError(`received ${done} of ${total} bytes`, done < total);
  }
  progress(done, total ?? done);
  return { sha256: hash.digest('hex'), bytes: done, resumedFrom, rangeRequested };
}

const WRITE_BATCH = 1 << 20;

/**
 * Appends the body to the part file (from `offset`, truncating anything after it) and
 * syncs it. Every byte received is on disk before a failure is thrown, so a broken
 * transfer leaves the whole received prefix to resume from (a write stream destroyed by
 * a failed pipeline drops what it still buffers). Returns the part's size.
 */
async function writeBody(
  res: IncomingMessage,
  partPath: string,
  offset: number,
  signal: AbortSignal | undefined,
  onChunk: (chunk: Buffer) => void,
): Promise<number> {
  const file = await open(partPath, offset > 0 ? 'r+' : 'w', 0o600);
  let position = offset;
  let batch: Buffer[] = [];
  let batched = 0;
  const flush = async (): Promise<void> => {
    if (batched === 0) return;
    const buffers = batch;
    batch = [];
    batched = 0;
    const { bytesWritten } = await file.writev(buffers, position);
    position += bytesWritten;
  };
  const abort = (): void => {
    res.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (offset > 0) await file.truncate(offset);
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        onChunk(chunk);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
    } finally {
      if (!signal?.aborted) await flush();
    }
    await file.sync();
    return position;
  } finally {
    signal?.removeEventListener('abort', abort);
    await file.close();
  }
}
