/**
 * Moving a migration stream between QEMU and a file through a unix socket. QEMU runs under
 * `-sandbox spawn=deny` (no `exec:`), 7.2 has no `file:` URI, and Node cannot pass file
 * descriptors (no SCM_RIGHTS), so the daemon sits on the other end of a `unix:` URI:
 *   save:    the daemon listens, QEMU's `migrate uri=unix:PATH` connects, bytes go to a temp file;
 *   restore: QEMU's `migrate-incoming uri=unix:PATH` listens, the daemon connects and sends the file.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chown, open, rename, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface SocketOwner {
  uid: number;
  gid: number;
}

/** Counts the bytes that pass. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

/**
 * Receives one migration stream on a unix socket into `tempPath` (created exclusively,
 * 0600). `finished` resolves once QEMU has closed the connection and the data is on disk
 * (fsync); `commit` renames it into place. `abort` at any point closes everything and
 * removes the temp file.
 */
export class SaveSink {
  bytes = 0;
  /** Set when writing the file failed (e.g. ENOSPC): the real reason a save failed. */
  error?: Error;
  readonly finished: Promise<number>;
  private conn?: Socket;
  private out?: WriteStream;
  private aborted = false;

  private constructor(private readonly server: Server, readonly socketPath: string, readonly tempPath: string) {
    this.finished = new Promise<number>((resolve, reject) => {
      server.once('connection', (conn) => {
        // One stream only: nobody else may connect once QEMU has.
        server.close();
        this.conn = conn;
        void this.receive(conn).then(resolve, (e: unknown) => {
          this.error = e instanceof Error ? e : new Error(String(e));
          reject(this.error);
        });
      });
    });
    // A save that never connects is aborted by the caller; nobody need hear about it here.
    this.finished.catch(() => undefined);
  }

  static async listen(socketPath: string, tempPath: string, owner?: SocketOwner): Promise<SaveSink> {
    await rm(socketPath, { force: true });
    await rm(tempPath, { force: true });
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // QEMU runs as the guest's own user: the socket must be its to connect to, and nobody else's.
    if (owner) await chown(socketPath, owner.uid, owner.gid);
    return new SaveSink(server, socketPath, tempPath);
  }

  private async receive(conn: Socket): Promise<number> {
    if (this.aborted) throw new Error('aborted');
    this.out = createWriteStream(this.tempPath, { flags: 'wx', mode: 0o600 });
    await pipeline(conn, counter((n) => (this.bytes += n)), this.out);
    // fsync through a second descriptor: Linux flushes the file's pages whichever fd asks.
    const fh = await open(this.tempPath, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.bytes;
  }

  /** Renames the complete file into place and makes the rename durable. */
  async commit(finalPath: string): Promise<void> {
    await rename(this.tempPath, finalPath);
    const dir = await open(dirname(finalPath), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    await rm(this.socketPath, { force: true });
  }

  async abort(): Promise<void> {
    this.aborted = true;
    this.server.close();
    this.conn?.destroy();
    this.out?.destroy();
    const out = this.out;
    if (out && !out.closed) await new Promise<void>((r) => out.once('close', () => r()));
    await rm(this.tempPath, { force: true });
    await rm(this.socketPath, { force: true });
  }
}

/** Connects to QEMU's incoming socket (retrying until it listens) and sends the file. */
export async function feedSave(file: string, socketPath: string, opts: { onBytes?: (n: number) => void; connectTimeoutMs?: number } = {}): Promise<number> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 10_000);
  let sock: Socket;
  for (;;) {
    try {
      sock = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(socketPath);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  let bytes = 0;
  await pipeline(createReadStream(file), counter((n) => {
    bytes += n;
    opts.onBytes?.(n);
  }), sock);
  return bytes;
}
