/**
 * A read-only NBD server over a Unix socket that serves a backup's disks straight from the
 * repository: what a live restore's VM reads before its own disk has the data. Each export
 * is named after its disk id; a read fetches (and checks) the chunks it covers, with a few
 * recent chunks cached. Simple replies only (QEMU's client asks for structured replies and
 * takes the refusal); no metadata contexts.
 *
 * It runs as its own process (`hangar backup serve`), so it outlives a daemon restart.
 * Reference: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 */
import net from 'node:net';
import { ByteReader } from './byte-reader.js';
import type { DiskChunks } from './disk-stream.js';
import type { BackupRepository } from './repository.js';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;

const OPT_EXPORT_NAME = 1;
const OPT_ABORT = 2;
const OPT_LIST = 3;
const OPT_INFO = 6;
const OPT_GO = 7;
const REP_ACK = 1;
const REP_SERVER = 2;
const REP_INFO = 3;
const REP_ERR_UNSUP = 0x80000001;
const REP_ERR_UNKNOWN = 0x80000006;
const INFO_EXPORT = 0;
const FLAG_HAS_FLAGS = 1;
const FLAG_READ_ONLY = 2;
const FLAG_CAN_MULTI_CONN = 256;

const CMD_READ = 0;
const CMD_DISC = 2;
const CMD_FLUSH = 3;
const EIO = 5;
const EINVAL = 22;
const EPERM = 1;

const MAX_READ = 32 * 1024 * 1024;
const CACHE_CHUNKS = 16;

export class BackupNbdServer {
  private readonly server: net.Server;
  private readonly cache = new Map<string, Buffer>();

  constructor(private readonly repo: BackupRepository, private readonly disks: Map<string, DiskChunks>, private readonly log: (msg: string) => void = () => {}) {
    this.server = net.createServer((s) => void this.serve(s));
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** `length` bytes of a disk at `offset`, from its chunks (zeros where none). */
  async readDisk(disk: DiskChunks, offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let at = offset;
    while (at < offset + length) {
      const i = Math.floor(at / disk.chunkSize);
      const within = at - i * disk.chunkSize;
      const n = Math.min(disk.chunkSize - within, offset + length - at);
      const digest = disk.chunks[i];
      if (digest) (await this.chunk(digest)).copy(out, at - offset, within, within + n);
      at += n;
    }
    return out;
  }

  private async chunk(digest: string): Promise<Buffer> {
    const hit = this.cache.get(digest);
    if (hit) {
      this.cache.delete(digest);
      this.cache.set(digest, hit);
      return hit;
    }
    const data = await this.repo.getChunk(digest);
    this.cache.set(digest, data);
    if (this.cache.size > CACHE_CHUNKS) this.cache.delete(this.cache.keys().next().value!);
    return data;
  }

  private async serve(socket: net.Socket): Promise<void> {
    const r = new ByteReader();
    socket.on('data', (b: Buffer) => r.push(b));
    socket.on('error', (e) => r.fail(e));
    socket.on('close', () => r.fail(new Error('closed')));
    try {
      const hello = Buffer.alloc(18);
      hello.writeBigUInt64BE(NBDMAGIC, 0);
      hello.writeBigUInt64BE(IHAVEOPT, 8);
      hello.writeUInt16BE(3, 16); // fixed newstyle, no zeroes
      socket.write(hello);
      const clientFlags = (await r.read(4)).readUInt32BE(0);
      const noZeroes = (clientFlags & 2) !== 0;
      let disk: DiskChunks | undefined;
      while (!disk) {
        const head = await r.read(16);
        if (head.readBigUInt64BE(0) !== IHAVEOPT) throw new Error('bad option magic');
        const opt = head.readUInt32BE(8);
        const data = await r.read(head.readUInt32BE(12));
        const reply = (type: number, payload = Buffer.alloc(0)) => {
          const h = Buffer.alloc(20);
          h.writeBigUInt64BE(OPT_REPLY_MAGIC, 0);
          h.writeUInt32BE(opt, 8);
          h.writeUInt32BE(type, 12);
          h.writeUInt32BE(payload.length, 16);
          socket.write(Buffer.concat([h, payload]));
        };
        const exportInfo = (d: DiskChunks) => {
          const p = Buffer.alloc(12);
          p.writeUInt16BE(INFO_EXPORT, 0);
          p.writeBigUInt64BE(BigInt(d.sizeBytes), 2);
          p.writeUInt16BE(FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_CAN_MULTI_CONN, 10);
          return p;
        };
        if (opt === OPT_EXPORT_NAME) {
          disk = this.disks.get(data.toString());
          if (!disk) throw new Error(`no export "${data.toString()}"`);
          const p = Buffer.alloc(noZeroes ? 10 : 134);
          p.writeBigUInt64BE(BigInt(disk.sizeBytes), 0);
          p.writeUInt16BE(FLAG_HAS_FLAGS | FLAG_READ_ONLY | FLAG_CAN_MULTI_CONN, 8);
          socket.write(p);
        } else if (opt === OPT_GO || opt === OPT_INFO) {
          const nameLen = data.readUInt32BE(0);
          const name = data.subarray(4, 4 + nameLen).toString();
          const d = this.disks.get(name) ?? (name === '' && this.disks.size === 1 ? [...this.disks.values()][0] : undefined);
          if (!d) {
            reply(REP_ERR_UNKNOWN, Buffer.from(`no export "${name}"`));
            continue;
          }
          reply(REP_INFO, exportInfo(d));
          reply(REP_ACK);
          if (opt === OPT_GO) disk = d;
        } else if (opt === OPT_LIST) {
          for (const name of this.disks.keys()) {
            const n = Buffer.from(name);
            const p = Buffer.alloc(4);
            p.writeUInt32BE(n.length);
            reply(REP_SERVER, Buffer.concat([p, n]));
          }
          reply(REP_ACK);
        } else if (opt === OPT_ABORT) {
          reply(REP_ACK);
          socket.end();
          return;
        } else {
          reply(REP_ERR_UNSUP);
        }
      }
      for (;;) {
        const req = await r.read(28);
        if (req.readUInt32BE(0) !== REQUEST_MAGIC) throw new Error('bad request magic');
        const type = req.readUInt16BE(6);
        const cookie = req.subarray(8, 16);
        const offset = Number(req.readBigUInt64BE(16));
        const length = req.readUInt32BE(24);
        const simple = (error: number, payload?: Buffer) => {
          const h = Buffer.alloc(16);
          h.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
          h.writeUInt32BE(error, 4);
          cookie.copy(h, 8);
          socket.write(payload ? Buffer.concat([h, payload]) : h);
        };
        if (type === CMD_DISC) {
          socket.end();
          return;
        }
        if (type === CMD_READ) {
          if (length > MAX_READ || offset + length > disk.sizeBytes) {
            simple(EINVAL);
            continue;
          }
          try {
            simple(0, await this.readDisk(disk, offset, length));
          } catch (e) {
            this.log(`read at ${offset} (${length} bytes) failed: ${(e as Error).message}`);
            simple(EIO);
          }
        } else if (type === CMD_FLUSH) {
          simple(0);
        } else {
          // Writes (the export is read-only), trims and anything else.
          if (type === 1) await r.read(length);
          simple(type === 1 ? EPERM : EINVAL);
        }
      }
    } catch (e) {
      if ((e as Error).message !== 'closed') this.log(`NBD connection: ${(e as Error).message}`);
      socket.destroy();
    }
  }
}
