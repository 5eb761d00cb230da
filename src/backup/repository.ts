/**
 * A backup repository: a directory (local, or network storage mounted on the host) of
 * content-addressed chunks and one manifest per backup.
 *
 *   <path>/hangar-backup-repo.json     format, chunk size, encryption parameters (no key)
 *   <path>/chunks/<ab>/<digest>        one chunk: header + (compressed) (encrypted) data
 *   <path>/backups/<id>.json           a backup's manifest (encrypted like a chunk when the repo is)
 *
 * - A chunk's name is the SHA-256 of its plain data, or, in an encrypted repository, an
 *   HMAC-SHA256 of it under a key derived from the repository key (so names reveal nothing).
 *   Identical data (disks cloned from one image, unchanged areas) is stored once.
 * - Chunks are compressed with zlib's deflate at level 1 (Node's own zlib, run on libuv's
 *   thread pool), and kept raw when that does not save at least 3 %: judged on the chunk's
 *   first 64 KiB first, so incompressible data costs no compression time.
 * - Encryption: AES-256-GCM with a random 96-bit IV per chunk, on the host before the
 *   write; keys come from the key file through HKDF-SHA256 with the repository's salt. The
 *   config holds an HMAC that tells a wrong key from a damaged chunk.
 * - Every file is written to `tmp/` and renamed into place: a chunk or a manifest is whole
 *   or absent. Chunks are not fsynced as they are written: before a manifest is written,
 *   the chunks written since the last one (and their directories) are fsynced, many at a
 *   time, and the manifest itself is fsynced. (A syncfs of the whole file system was
 *   tried: it also waits for every other writer's dirty data, 2.5 s more for a small
 *   incremental after another program wrote 2 GiB.) A backup is listed only once its manifest is written,
 *   which happens after all its chunks are; chunks of a backup cut short are garbage that
 *   `gc` removes.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { errorText, HangarError } from '../errors/errors.js';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

export const CHUNK_SIZE = 4 * 1024 * 1024;
const CONFIG_FILE = 'hangar-backup-repo.json';
const MAGIC = Buffer.from('HGC1');
const FLAG_COMPRESSED = 1;
const FLAG_ENCRYPTED = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const COMPRESSION_LEVEL = 1;
/** fsyncs in flight when a manifest is written. */
const SYNC_CONCURRENCY = 32;
const SAMPLE_BYTES = 64 * 1024;
export const COMPRESSION = `deflate level ${COMPRESSION_LEVEL} (zlib)`;

export interface RepoConfig {
  format: 1;
  chunkSize: number;
  compression: string;
  encryption?: { cipher: 'aes-256-gcm'; kdf: 'hkdf-sha256'; salt: string; keyCheck: string };
  createdAt: string;
}

interface Keys {
  enc: Buffer;
  id: Buffer;
}

function deriveKeys(keyFile: Buffer, salt: Buffer): Keys & { check: string } {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', keyFile, salt, info, 32));
  const check = createHmac('sha256', derive('hangar-backup-check')).update('hangar-backup-repo').digest('hex');
  return { enc: derive('hangar-backup-encrypt'), id: derive('hangar-backup-chunk-id'), check };
}

/** Reads a key file: at least 32 bytes of secret. */
export async function readKeyFile(path: string): Promise<Buffer> {
  const key = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new HangarError('INVALID_SPEC', `Cannot read the key file ${path}: ${e.code ?? e.message}.`, { details: { field: 'keyFile' } });
  });
  if (key.length < 32) {
    throw new HangarError('INVALID_SPEC', `The key file ${path} holds ${key.length} bytes; a key needs at least 32 (e.g. head -c 32 /dev/urandom > ${path}).`, { details: { field: 'keyFile' } });
  }
  return key;
}

export interface PutResult {
  digest: string;
  /** Bytes written to the repository (0 when the chunk was there already). */
  storedBytes: number;
}

export class BackupRepository {
  private readonly known = new Set<string>();
  /** Chunk files written since the last manifest, not yet fsynced. */
  private readonly unsynced = new Set<string>();

  private constructor(readonly path: string, readonly config: RepoConfig, private readonly keys: Keys | undefined) {}

  get encrypted(): boolean {
    return this.keys !== undefined;
  }

  /** Makes a new repository in `path` (an empty or missing directory). */
  static async create(path: string, key?: Buffer): Promise<BackupRepository> {
    await mkdir(path, { recursive: true });
    const entries = await readdir(path);
    if (entries.length > 0) {
      throw new HangarError('INVALID_SPEC', `${path} is not empty: a backup repository needs an empty or new directory.`, { details: { field: 'path', entries: entries.slice(0, 5) } });
    }
    const config: RepoConfig = { format: 1, chunkSize: CHUNK_SIZE, compression: COMPRESSION, createdAt: new Date().toISOString() };
    let keys: Keys | undefined;
    if (key) {
      const salt = randomBytes(16);
      const k = deriveKeys(key, salt);
      keys = { enc: k.enc, id: k.id };
      config.encryption = { cipher: 'aes-256-gcm', kdf: 'hkdf-sha256', salt: salt.toString('hex'), keyCheck: k.check };
    }
    for (const d of ['chunks', 'backups', 'tmp']) await mkdir(join(path, d), { recursive: true });
    const repo = new BackupRepository(path, config, keys);
    await repo.writeAtomic(join(path, CONFIG_FILE), Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
    return repo;
  }

  /** Opens a repository; an encrypted one needs its key (BACKUP_KEY_MISMATCH otherwise). */
  static async open(path: string, key?: Buffer): Promise<BackupRepository> {
    let config: RepoConfig;
    try {
      config = JSON.parse(await readFile(join(path, CONFIG_FILE), 'utf8')) as RepoConfig;
    } catch (e) {
      throw new HangarError('BACKUP_REPO_UNAVAILABLE', `${path} holds no readable backup repository (${errorText(e)}): is the storage mounted?`, { details: { path } });
    }
    if (config.format !== 1) throw new HangarError('BACKUP_REPO_UNAVAILABLE', `The repository at ${path} has format ${String(config.format)}, which this Hangar does not know.`);
    let keys: Keys | undefined;
    if (config.encryption) {
      if (!key) throw new HangarError('BACKUP_KEY_MISMATCH', `The repository at ${path} is encrypted: its key file is needed to read or write it.`);
      const k = deriveKeys(key, Buffer.from(config.encryption.salt, 'hex'));
      if (!timingSafeEqual(Buffer.from(k.check), Buffer.from(config.encryption.keyCheck))) {
        throw new HangarError('BACKUP_KEY_MISMATCH', `The key does not open the repository at ${path}: it was made with another key.`);
      }
      keys = { enc: k.enc, id: k.id };
    }
    for (const d of ['chunks', 'backups', 'tmp']) await mkdir(join(path, d), { recursive: true });
    return new BackupRepository(path, config, keys);
  }

  digestOf(data: Buffer): string {
    return this.keys ? createHmac('sha256', this.keys.id).update(data).digest('hex') : createHash('sha256').update(data).digest('hex');
  }

  private chunkPath(digest: string): string {
    return join(this.path, 'chunks', digest.slice(0, 2), digest);
  }

  async hasChunk(digest: string): Promise<boolean> {
    if (this.known.has(digest)) return true;
    const there = await stat(this.chunkPath(digest)).then(() => true, () => false);
    if (there) this.known.add(digest);
    return there;
  }

  /** Stores `data` (a chunk) unless the repository has it; returns its digest. */
  async putChunk(data: Buffer): Promise<PutResult> {
    const digest = this.digestOf(data);
    if (await this.hasChunk(digest)) return { digest, storedBytes: 0 };
    const encoded = await this.encode(data);
    await mkdir(join(this.path, 'chunks', digest.slice(0, 2)), { recursive: true });
    // No fsync here: writeManifest syncs the chunks written since the last manifest, together.
    await this.writeAtomic(this.chunkPath(digest), encoded, false);
    this.unsynced.add(this.chunkPath(digest));
    this.known.add(digest);
    return { digest, storedBytes: encoded.length };
  }

  /** A chunk's plain data, checked against its digest (BACKUP_CORRUPT when damaged or missing). */
  async getChunk(digest: string): Promise<Buffer> {
    let raw: Buffer;
    try {
      raw = await readFile(this.chunkPath(digest));
    } catch (e) {
      throw new HangarError('BACKUP_CORRUPT', `Chunk ${digest} is missing from the repository at ${this.path} (${(e as NodeJS.ErrnoException).code ?? errorText(e)}).`, { details: { chunk: digest } });
    }
    let data: Buffer;
    try {
      data = await this.decode(raw);
    } catch (e) {
      throw new HangarError('BACKUP_CORRUPT', `Chunk ${digest} in ${this.path} is damaged: ${errorText(e)}.`, { details: { chunk: digest } });
    }
    if (this.digestOf(data) !== digest) throw new HangarError('BACKUP_CORRUPT', `Chunk ${digest} in ${this.path} is damaged: its content does not match its name.`, { details: { chunk: digest } });
    return data;
  }

  /** Every chunk's digest in the repository. */
  async *chunkDigests(): AsyncGenerator<string> {
    const root = join(this.path, 'chunks');
    for (const sub of await readdir(root)) {
      for (const name of await readdir(join(root, sub)).catch(() => [] as string[])) {
        if (/^[0-9a-f]{64}$/.test(name)) yield name;
      }
    }
  }

  /** Removes a chunk (garbage collection); returns the bytes freed. */
  async deleteChunk(digest: string): Promise<number> {
    const p = this.chunkPath(digest);
    const size = await stat(p).then((s) => s.size, () => 0);
    await rm(p, { force: true });
    this.known.delete(digest);
    return size;
  }

  async writeManifest(id: string, manifest: object): Promise<void> {
    // Every chunk the manifest names is on stable storage before the manifest is.
    await this.syncChunks();
    await this.writeAtomic(join(this.path, 'backups', `${id}.json`), await this.encode(Buffer.from(JSON.stringify(manifest)), false));
  }

  async readManifest<T>(id: string): Promise<T> {
    let raw: Buffer;
    try {
      raw = await readFile(join(this.path, 'backups', `${id}.json`));
    } catch {
      throw new HangarError('BACKUP_NOT_FOUND', `The repository at ${this.path} has no backup "${id}".`, { details: { backup: id } });
    }
    try {
      return JSON.parse((await this.decode(raw)).toString()) as T;
    } catch (e) {
      throw new HangarError('BACKUP_CORRUPT', `The manifest of backup "${id}" in ${this.path} is damaged: ${errorText(e)}.`, { details: { backup: id } });
    }
  }

  async manifestIds(): Promise<string[]> {
    return (await readdir(join(this.path, 'backups'))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
  }

  async deleteManifest(id: string): Promise<void> {
    await rm(join(this.path, 'backups', `${id}.json`), { force: true });
  }

  /** Leftovers of writes cut short (a daemon killed mid-backup). */
  async cleanTmp(): Promise<void> {
    for (const f of await readdir(join(this.path, 'tmp')).catch(() => [] as string[])) await rm(join(this.path, 'tmp', f), { force: true });
  }

  private async encode(data: Buffer, compress = true): Promise<Buffer> {
    let flags = 0;
    let body = data;
    // Data that does not compress (random, already compressed, encrypted) is seen on a 64 KiB
    // sample first: compressing a whole chunk of it costs ~25 ms of CPU for nothing.
    if (compress && data.length > 2 * SAMPLE_BYTES) {
      const sample = data.subarray(0, SAMPLE_BYTES);
      if ((await deflate(sample, { level: COMPRESSION_LEVEL })).length >= sample.length * 0.97) compress = false;
    }
    if (compress) {
      const packed = await deflate(data, { level: COMPRESSION_LEVEL });
      if (packed.length < data.length * 0.97) {
        body = packed;
        flags |= FLAG_COMPRESSED;
      }
    }
    if (!this.keys) return Buffer.concat([MAGIC, Buffer.from([flags]), body]);
    flags |= FLAG_ENCRYPTED;
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.concat([MAGIC, Buffer.from([flags])]);
    const cipher = createCipheriv('aes-256-gcm', this.keys.enc, iv);
    cipher.setAAD(header);
    const sealed = Buffer.concat([cipher.update(body), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), sealed]);
  }

  private async decode(raw: Buffer): Promise<Buffer> {
    if (raw.length < 5 || !raw.subarray(0, 4).equals(MAGIC)) throw new Error('not a Hangar chunk');
    const flags = raw[4]!;
    let body = raw.subarray(5);
    if (flags & FLAG_ENCRYPTED) {
      if (!this.keys) throw new Error('the chunk is encrypted and the repository is not');
      const iv = body.subarray(0, IV_BYTES);
      const tag = body.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', this.keys.enc, iv);
      decipher.setAAD(raw.subarray(0, 5));
      decipher.setAuthTag(tag);
      body = Buffer.concat([decipher.update(body.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
    } else if (this.keys) {
      throw new Error('the chunk is not encrypted in an encrypted repository');
    }
    return flags & FLAG_COMPRESSED ? inflate(body) : body;
  }

  /** fsyncs the chunks written since the last call, and the directories they were renamed into. */
  async syncChunks(): Promise<void> {
    const files = [...this.unsynced];
    this.unsynced.clear();
    const dirs = [...new Set(files.map((f) => dirname(f)))];
    const fsyncPath = async (p: string) => {
      const fh = await open(p, fsConstants.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    };
    try {
      for (const batch of [files, dirs]) {
        for (let i = 0; i < batch.length; i += SYNC_CONCURRENCY) await Promise.all(batch.slice(i, i + SYNC_CONCURRENCY).map(fsyncPath));
      }
    } catch (e) {
      for (const f of files) this.unsynced.add(f);
      throw new HangarError('STORAGE_FAILED', `Flushing the backup repository at ${this.path} failed: ${errorText(e)}`, { cause: e });
    }
  }

  private async writeAtomic(path: string, data: Buffer, sync = true): Promise<void> {
    const tmp = join(this.path, 'tmp', `${randomBytes(8).toString('hex')}.part`);
    try {
      const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      try {
        await fh.writeFile(data);
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC' || (e as NodeJS.ErrnoException).code === 'EDQUOT') {
        throw new HangarError('STORAGE_FULL', `The backup repository at ${this.path} is full: free space there, or prune old backups.`, { cause: e });
      }
      throw e;
    }
  }
}
