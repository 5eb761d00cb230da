/**
 * A client for the NBD protocol (fixed newstyle handshake, structured replies, metadata
 * contexts), enough to read a disk QEMU exports: READ, WRITE, FLUSH and BLOCK_STATUS over a
 * Unix socket. Backups read a point-in-time view of a running guest's disk through it
 * (QEMU's `block-export-add` of a fleecing node), with the dirty bitmap of the last backup
 * as a metadata context; restores write into a new disk through `qemu-nbd`.
 *
 * Requests are pipelined: each has a cookie, replies may come in any order.
 * Reference: https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md
 */
import net from 'node:net';
import { HangarError } from '../errors/errors.js';
import { ByteReader } from './byte-reader.js';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;
const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

const OPT_GO = 7;
const OPT_STRUCTURED_REPLY = 8;
const OPT_SET_META_CONTEXT = 10;
const REP_ACK = 1;
const REP_INFO = 3;
const REP_META_CONTEXT = 4;
const INFO_EXPORT = 0;

const CMD_READ = 0;
const CMD_WRITE = 1;
const CMD_DISC = 2;
const CMD_FLUSH = 3;
const CMD_BLOCK_STATUS = 7;

const REPLY_FLAG_DONE = 1;
const REPLY_TYPE_NONE = 0;
const REPLY_TYPE_OFFSET_DATA = 1;
const REPLY_TYPE_OFFSET_HOLE = 2;
const REPLY_TYPE_BLOCK_STATUS = 5;
const REPLY_TYPE_ERROR_BIT = 0x8000;

/** base:allocation flags. */
export const STATE_HOLE = 1;
export const STATE_ZERO = 2;
/** qemu:dirty-bitmap:NAME flag. */
export const STATE_DIRTY = 1;

export interface Extent {
  offset: number;
  length: number;
  flags: number;
}

interface Pending {
  kind: 'read' | 'status' | 'plain';
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** read: where the data goes (holes stay zero). */
  buf?: Buffer;
  offset?: number;
  /** status: extents per context id. */
  extents?: Map<number, Extent[]>;
  error?: Error;
}

export interface NbdConnectOptions {
  /** The export's name ('' is qemu-nbd's default). */
  exportName?: string;
  /** Metadata contexts to negotiate, e.g. `base:allocation`, `qemu:dirty-bitmap:b1`. */
  metaContexts?: string[];
  timeoutMs?: number;
}

function nbdError(message: string): HangarError {
  return new HangarError('STORAGE_FAILED', `NBD: ${message}`);
}

export class NbdClient {
  private nextCookie = 1n;
  private readonly pending = new Map<bigint, Pending>();
  private closed?: Error;

  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: ByteReader,
    /** The export's size in bytes. */
    readonly size: number,
    /** Negotiated metadata contexts: name → id. */
    readonly contexts: Map<string, number>,
  ) {
    void this.replyLoop();
  }

  static async connect(socketPath: string, opts: NbdConnectOptions = {}): Promise<NbdClient> {
    const socket = net.createConnection(socketPath);
    const reader = new ByteReader();
    socket.on('data', (b: Buffer) => reader.push(b));
    socket.on('error', (e) => reader.fail(nbdError(`connection to ${socketPath}: ${e.message}`)));
    socket.on('close', () => reader.fail(nbdError(`connection to ${socketPath} closed`)));
    const timer = setTimeout(() => socket.destroy(nbdError(`no handshake from ${socketPath} within ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    try {
      const hello = await reader.read(18);
      if (hello.readBigUInt64BE(0) !== NBDMAGIC || hello.readBigUInt64BE(8) !== IHAVEOPT) throw nbdError('not a newstyle NBD server');
      const serverFlags = hello.readUInt16BE(16);
      if ((serverFlags & 1) === 0) throw nbdError('the server lacks the fixed newstyle handshake');
      const clientFlags = Buffer.alloc(4);
      clientFlags.writeUInt32BE(serverFlags & 3);
      socket.write(clientFlags);
      const option = async (opt: number, data: Buffer, onReply: (type: number, payload: Buffer) => void) => {
        const head = Buffer.alloc(16);
        head.writeBigUInt64BE(IHAVEOPT, 0);
        head.writeUInt32BE(opt, 8);
        head.writeUInt32BE(data.length, 12);
        socket.write(Buffer.concat([head, data]));
        for (;;) {
          const r = await reader.read(20);
          if (r.readBigUInt64BE(0) !== OPT_REPLY_MAGIC || r.readUInt32BE(8) !== opt) throw nbdError('garbled option reply');
          const type = r.readUInt32BE(12);
          const payload = await reader.read(r.readUInt32BE(16));
          if (type & 0x80000000) throw nbdError(`option ${opt} refused (${type & 0x7fffffff})${payload.length ? `: ${payload.toString()}` : ''}`);
          if (type === REP_ACK) return;
          onReply(type, payload);
        }
      };
      await option(OPT_STRUCTURED_REPLY, Buffer.alloc(0), () => {});
      const name = Buffer.from(opts.exportName ?? '');
      const contexts = new Map<string, number>();
      const wanted = opts.metaContexts ?? [];
      if (wanted.length) {
        const parts: Buffer[] = [u32(name.length), name, u32(wanted.length)];
        for (const q of wanted) parts.push(u32(Buffer.byteLength(q)), Buffer.from(q));
        await option(OPT_SET_META_CONTEXT, Buffer.concat(parts), (type, p) => {
          if (type === REP_META_CONTEXT) contexts.set(p.subarray(4).toString(), p.readUInt32BE(0));
        });
        const missing = wanted.filter((q) => !contexts.has(q));
        if (missing.length) throw nbdError(`the export has no metadata context ${missing.join(', ')}`);
      }
      let size = -1;
      await option(OPT_GO, Buffer.concat([u32(name.length), name, Buffer.from([0, 0])]), (type, p) => {
        if (type === REP_INFO && p.readUInt16BE(0) === INFO_EXPORT) size = Number(p.readBigUInt64BE(2));
      });
      if (size < 0) throw nbdError('the server did not say the export\'s size');
      return new NbdClient(socket, reader, size, contexts);
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads `length` bytes at `offset` (holes read as zeros). */
  read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    return this.request(CMD_READ, offset, length, undefined, { kind: 'read', buf, offset }) as Promise<Buffer>;
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.request(CMD_WRITE, offset, data.length, data, { kind: 'plain' }) as Promise<void>;
  }

  flush(): Promise<void> {
    return this.request(CMD_FLUSH, 0, 0, undefined, { kind: 'plain' }) as Promise<void>;
  }

  /**
   * The extents of `[offset, offset+length)` for one negotiated context, covering the whole
   * range (the server may answer in parts; this asks again from where it stopped).
   */
  async blockStatus(context: string, offset: number, length: number): Promise<Extent[]> {
    const id = this.contexts.get(context);
    if (id === undefined) throw nbdError(`metadata context ${context} was not negotiated`);
    const out: Extent[] = [];
    let at = offset;
    const end = offset + length;
    while (at < end) {
      const ask = Math.min(end - at, 0x80000000);
      const byCtx = (await this.request(CMD_BLOCK_STATUS, at, ask, undefined, { kind: 'status', extents: new Map() })) as Map<number, Extent[]>;
      const got = byCtx.get(id) ?? [];
      if (got.length === 0) throw nbdError(`no block status for ${context} at ${at}`);
      for (const e of got) {
        const len = Math.min(e.length, end - at);
        if (len <= 0) break;
        out.push({ offset: at, length: len, flags: e.flags });
        at += len;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const head = requestHeader(CMD_DISC, this.nextCookie++, 0, 0);
    this.closed = nbdError('the client closed the connection');
    if (!this.socket.destroyed && this.socket.writable) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        this.socket.once('close', done);
        this.socket.end(head, done);
      });
    }
    this.socket.destroy();
  }

  private request(cmd: number, offset: number, length: number, data: Buffer | undefined, p: Omit<Pending, 'resolve' | 'reject'>): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const cookie = this.nextCookie++;
    return new Promise((resolve, reject) => {
      this.pending.set(cookie, { ...p, resolve, reject });
      const head = requestHeader(cmd, cookie, offset, length);
      this.socket.write(data ? Buffer.concat([head, data]) : head);
    });
  }

  private async replyLoop(): Promise<void> {
    try {
      for (;;) {
        const magic = (await this.reader.read(4)).readUInt32BE(0);
        if (magic === SIMPLE_REPLY_MAGIC) {
          const r = await this.reader.read(12);
          const error = r.readUInt32BE(0);
          const cookie = r.readBigUInt64BE(4);
          const p = this.take(cookie);
          // With structured replies on, a read never gets a simple reply with data.
          if (error) p.reject(nbdError(`request failed with error ${error}`));
          else p.resolve(p.kind === 'read' ? p.buf : p.kind === 'status' ? p.extents : undefined);
        } else if (magic === STRUCTURED_REPLY_MAGIC) {
          const r = await this.reader.read(16);
          const flags = r.readUInt16BE(0);
          const type = r.readUInt16BE(2);
          const cookie = r.readBigUInt64BE(4);
          const payload = await this.reader.read(r.readUInt32BE(12));
          const p = this.pending.get(cookie);
          if (!p) throw nbdError('a reply to no request');
          this.chunk(p, type, payload);
          if (flags & REPLY_FLAG_DONE) {
            this.pending.delete(cookie);
            if (p.error) p.reject(p.error);
            else p.resolve(p.kind === 'read' ? p.buf : p.kind === 'status' ? p.extents : undefined);
          }
        } else {
          throw nbdError(`garbled reply (magic ${magic.toString(16)})`);
        }
      }
    } catch (e) {
      const err = e instanceof Error ? e : nbdError(String(e));
      this.closed ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      this.socket.destroy();
    }
  }

  private chunk(p: Pending, type: number, payload: Buffer): void {
    if (type === REPLY_TYPE_NONE) return;
    if (type & REPLY_TYPE_ERROR_BIT) {
      const code = payload.readUInt32BE(0);
      const msgLen = payload.readUInt16BE(4);
      p.error ??= nbdError(`request failed with error ${code}${msgLen ? `: ${payload.subarray(6, 6 + msgLen).toString()}` : ''}`);
      return;
    }
    if (type === REPLY_TYPE_OFFSET_DATA && p.buf) {
      const at = Number(payload.readBigUInt64BE(0)) - p.offset!;
      payload.copy(p.buf, at, 8);
    } else if (type === REPLY_TYPE_OFFSET_HOLE && p.buf) {
      // The buffer starts zeroed.
    } else if (type === REPLY_TYPE_BLOCK_STATUS && p.extents) {
      const id = payload.readUInt32BE(0);
      const list: Extent[] = [];
      for (let i = 4; i + 8 <= payload.length; i += 8) list.push({ offset: 0, length: payload.readUInt32BE(i), flags: payload.readUInt32BE(i + 4) });
      p.extents.set(id, list);
    }
  }

  private take(cookie: bigint): Pending {
    const p = this.pending.get(cookie);
    if (!p) throw nbdError('a reply to no request');
    this.pending.delete(cookie);
    return p;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function requestHeader(cmd: number, cookie: bigint, offset: number, length: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(cmd, 6);
  b.writeBigUInt64BE(cookie, 8);
  b.writeBigUInt64BE(BigInt(offset), 16);
  b.writeUInt32BE(length, 24);
  return b;
}
