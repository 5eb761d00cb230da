/**
 * Moving a migration stream between QEMU and a file through a unix socket. QEMU runs under
 * `-sandbox spawn=deny` (no `exec:`), 7.2 has no `file:` URI, and Node cannot pass file
 * descriptors over a socket (no SCM_RIGHTS), so the daemon sits on the other end of a
 * `unix:` URI:
 *   save:    the daemon listens, QEMU's `migrate uri=unix:PATH` connects, the bytes go to a temp file;
 *   restore: QEMU's `migrate-incoming uri=unix:PATH` listens, the daemon connects and sends the file.
 * The bytes never pass through JavaScript: the connected socket is handed to `dd` as its
 * stdin (save) or stdout (restore). Copying in the daemon ran at 16–20 % of the disk's speed
 * (a 64 KiB chunk at a time, with a full GC every ~50 ms from chunks promoted to the old
 * generation); `dd bs=1M` runs at the disk's speed (bench/results/save-restore.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, open, rename, rm, stat } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

export interface SocketOwner {
  uid: number;
  gid: number;
}

/**
 * Receives one migration stream on a unix socket into `tempPath` (created exclusively,
 * 0600). `finished` resolves once QEMU has closed the connection and the data is on disk
 * (dd's fsync); `commit` renames it into place. `abort` at any point closes everything and
 * removes the temp file.
 */
export class SaveSink {
  bytes = 0;
  /** Set when writing the file failed (e.g. ENOSPC): the real reason a save failed. */
  error?: Error;
  readonly finished: Promise<number>;
  private conn?: Socket;
  private copier?: ChildProcess;
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
    // Paused: the connection's bytes are for dd to read, not for this process.
    const server = createServer({ pauseOnConnect: true });
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
    // Created here, exclusively and owner-only; dd only writes into it and flushes it.
    await (await open(this.tempPath, 'wx', 0o600)).close();
    const dd = spawn('dd', [`of=${this.tempPath}`, 'bs=1M', 'iflag=fullblock', 'conv=notrunc,fsync', 'status=none'], { stdio: [conn, 'ignore', 'pipe'] });
    this.copier = dd;
    // dd has its own copy of the connection: this one is closed (no shutdown: QEMU's end stays open).
    conn.destroy();
    // Written-back while it streams, so dd's final fsync has little left to do.
    const flusher = await flushWhile(this.tempPath, FLUSH_EVERY_MS);
    try {
      await copierDone(dd, `writing ${this.tempPath}`);
    } finally {
      await flusher.stop();
    }
    this.bytes = (await stat(this.tempPath)).size;
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
    const dd = this.copier;
    if (dd && dd.exitCode === null && dd.signalCode === null) {
      const gone = new Promise<void>((r) => dd.once('close', () => r()));
      dd.kill('SIGKILL');
      await gone;
    }
    await rm(this.tempPath, { force: true });
    await rm(this.socketPath, { force: true });
  }
}

const FLUSH_EVERY_MS = 200;

/**
 * Flushes a file's written pages to disk every `everyMs` (fdatasync through a descriptor of
 * our own: Linux writes back the file's pages whichever descriptor asks), one flush at a time.
 */
async function flushWhile(path: string, everyMs: number): Promise<{ stop(): Promise<void> }> {
  const fh = await open(path, 'r');
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => (stopped ? undefined : fh.datasync().catch(() => undefined)));
  }, everyMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await fh.close();
    },
  };
}

/** Resolves when dd exits 0; otherwise rejects with its words and an errno code where it names one. */
function copierDone(dd: ChildProcess, what: string): Promise<string> {
  let err = '';
  dd.stderr?.setEncoding('utf8');
  dd.stderr?.on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    dd.once('error', (e) => reject(e));
    dd.once('close', (code, signal) => {
      if (code === 0) return resolve(err);
      const e = new Error(`${what} failed: ${err.trim() || (signal ? `dd was killed (${signal})` : `dd exited ${code}`)}`) as NodeJS.ErrnoException;
      if (/No space left on device/.test(err)) e.code = 'ENOSPC';
      else if (/Disk quota exceeded/.test(err)) e.code = 'EDQUOT';
      (e as { stderr?: string }).stderr = err;
      reject(e);
    });
  });
}

/**
 * Connects to QEMU's incoming socket (retrying until it listens) and sends the file through
 * dd. Resolves with the bytes sent; on failure the error carries `bytesSent` (dd's count).
 */
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
  sock.pause();
  const dd = spawn('dd', [`if=${file}`, 'bs=1M'], { stdio: ['ignore', sock, 'pipe'] });
  sock.destroy();
  try {
    const summary = await copierDone(dd, `sending ${file}`);
    const bytes = bytesCopied(summary) ?? (await stat(file)).size;
    opts.onBytes?.(bytes);
    return bytes;
  } catch (e) {
    const sent = bytesCopied((e as { stderr?: string }).stderr ?? '') ?? 0;
    opts.onBytes?.(sent);
    throw Object.assign(e as Error, { bytesSent: sent });
  }
}

/** The byte count in dd's closing summary ("123 bytes (…) copied"). */
function bytesCopied(summary: string): number | undefined {
  const m = /^(\d+) bytes/m.exec(summary);
  return m ? Number(m[1]) : undefined;
}
