/**
 * logd's work (the process is src/logd/main.ts): reads each watched FIFO as QEMU writes into
 * it and appends to its rotating log; answers the daemon on its control socket; remembers its
 * watches in `watches.json` so that a restarted logd reopens the same FIFOs (QEMU's end of a
 * FIFO stays open and valid meanwhile: what it writes while no reader exists is dropped with
 * EPIPE, which QEMU ignores); lets a watch go once its QEMU has ended.
 */
import { constants, existsSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { isSameLiveProcess } from '../util/proc.js';
import type { LogdReply, LogdRequest, LogStream, LogWatch } from './files.js';
import { RotatingLog, type LogLimits } from './rotating.js';

interface OpenStream {
  spec: LogStream;
  fd: number;
  reader: Socket;
  log: RotatingLog;
}

interface Watched {
  watch: LogWatch;
  streams: OpenStream[];
}

export interface LogdOptions {
  socket: string;
  watchesFile: string;
  limits: LogLimits;
  log: (m: string) => void;
  /** Called when its control socket has been removed under it. */
  onOrphaned?: () => void;
  /** How often ended QEMUs are looked for (default 2 s). */
  ownerCheckMs?: number;
}

const READ_CHUNK = 64 * 1024;

export class LogServer {
  private readonly watched = new Map<string, Watched>();
  private server?: Server;
  private timer?: NodeJS.Timeout;
  private limits: LogLimits;
  private readonly buf = Buffer.alloc(READ_CHUNK);

  constructor(private readonly o: LogdOptions) {
    this.limits = o.limits;
  }

  /** Reopens the remembered watches, then listens on the control socket. */
  async start(): Promise<void> {
    for (const w of readWatches(this.o.watchesFile)) {
      try {
        this.open(w);
      } catch (e) {
        this.o.log(`reopening the logs of ${w.id} failed: ${String(e)}`);
      }
    }
    this.persist();
    this.checkOwners();
    this.timer = setInterval(() => {
      this.checkOwners();
      // The run dir was removed (its daemon's data dir deleted): nothing can reach this logd any more.
      if (this.server?.listening && !existsSync(this.o.socket)) this.o.onOrphaned?.();
    }, this.o.ownerCheckMs ?? 2000);
    const server = createServer((conn) => this.serve(conn));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.socket, () => resolve());
    });
  }

  /** Drains every FIFO into its log and closes everything (the FIFOs stay for the next logd). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const w of this.watched.values()) this.closeWatch(w, false);
    this.watched.clear();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  handle(req: LogdRequest): LogdReply {
    switch (req.op) {
      case 'hello':
        return { ok: true, pid: process.pid };
      case 'limits':
        this.limits = { maxSize: req.maxSize, maxBackups: req.maxBackups };
        for (const w of this.watched.values()) for (const s of w.streams) s.log.setLimits(this.limits);
        return { ok: true };
      case 'watch': {
        const old = this.watched.get(req.watch.id);
        // The daemon made the FIFOs anew: the old ones (if any) are unlinked already.
        if (old) this.closeWatch(old, false);
        this.watched.delete(req.watch.id);
        this.open(req.watch);
        this.persist();
        return { ok: true };
      }
      case 'owner': {
        const w = this.watched.get(req.id);
        if (!w) return { ok: false, error: `no watch ${req.id}` };
        w.watch.owner = req.owner;
        this.persist();
        return { ok: true };
      }
      case 'flush':
        for (const s of this.watched.get(req.id)?.streams ?? []) this.drain(s);
        return { ok: true };
      case 'unwatch':
        this.unwatch(req.id);
        return { ok: true };
      case 'keep':
        for (const id of [...this.watched.keys()]) if (!req.ids.includes(id)) this.unwatch(id);
        return { ok: true };
      case 'list':
        return { ok: true, watches: [...this.watched.values()].map((w) => w.watch) };
      default:
        return { ok: false, error: `unknown request ${JSON.stringify((req as { op?: unknown }).op)}` };
    }
  }

  private open(watch: LogWatch): void {
    const streams: OpenStream[] = [];
    try {
      for (const spec of watch.streams) {
        if (!statSync(spec.fifo).isFIFO()) throw new Error(`${spec.fifo} is not a FIFO`);
        // Read and write: logd is a writer too, so it never reads an end when QEMU closes its side, and QEMU's open never waits.
        const fd = openSync(spec.fifo, constants.O_RDWR | constants.O_NONBLOCK);
        const reader = new Socket({ fd, readable: true, writable: false });
        const log = new RotatingLog(spec.log, this.limits);
        const s: OpenStream = { spec, fd, reader, log };
        reader.on('data', (chunk: Buffer) => this.append(s, chunk));
        reader.on('error', (e) => this.o.log(`reading ${spec.fifo} failed: ${String(e)}`));
        streams.push(s);
      }
    } catch (e) {
      for (const s of streams) this.closeStream(s, false);
      throw e;
    }
    this.watched.set(watch.id, { watch, streams });
  }

  private append(s: OpenStream, chunk: Buffer): void {
    try {
      s.log.write(chunk);
    } catch (e) {
      // A full disk: what cannot be written is dropped (the guest never waits for its log).
      s.log.close();
      this.o.log(`writing ${s.spec.log} failed: ${String(e)}`);
    }
  }

  /** Reads what the FIFO holds right now (QEMU has ended, or the daemon wants the newest lines on disk). */
  private drain(s: OpenStream): void {
    for (;;) {
      let n: number;
      try {
        n = readSync(s.fd, this.buf, 0, this.buf.length, null);
      } catch {
        return; // EAGAIN: empty
      }
      if (n <= 0) return;
      this.append(s, Buffer.from(this.buf.subarray(0, n)));
    }
  }

  private unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    this.closeWatch(w, true);
    this.watched.delete(id);
    this.persist();
  }

  private closeWatch(w: Watched, removeFifos: boolean): void {
    for (const s of w.streams) this.closeStream(s, removeFifos);
  }

  private closeStream(s: OpenStream, removeFifo: boolean): void {
    this.drain(s);
    s.reader.destroy();
    s.log.close();
    if (removeFifo) {
      try {
        unlinkSync(s.spec.fifo);
      } catch {
        // already gone
      }
    }
  }

  /** Watches whose QEMU has ended are drained and let go (the daemon may be down meanwhile). */
  private checkOwners(): void {
    for (const [id, w] of this.watched) {
      const owner = w.watch.owner;
      if (owner && !isSameLiveProcess(owner.pid, owner.startTime)) this.unwatch(id);
      // FIFOs removed under logd (the VM's run dir deleted): nothing more can come.
      else if (w.watch.streams.some((s) => !existsSync(s.fifo))) this.unwatch(id);
    }
  }

  private persist(): void {
    const tmp = `${this.o.watchesFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ limits: this.limits, watches: [...this.watched.values()].map((w) => w.watch) }), { mode: 0o600 });
      renameSync(tmp, this.o.watchesFile);
    } catch (e) {
      this.o.log(`saving ${this.o.watchesFile} failed: ${String(e)}`);
    }
  }

  private serve(conn: Socket): void {
    let pending = '';
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    conn.on('data', (text: string) => {
      pending += text;
      if (pending.length > 1024 * 1024) conn.destroy();
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let reply: LogdReply;
        try {
          reply = this.handle(JSON.parse(line) as LogdRequest);
        } catch (e) {
          reply = { ok: false, error: String(e) };
        }
        conn.write(`${JSON.stringify(reply)}\n`);
      }
    });
  }
}

function readWatches(file: string): LogWatch[] {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { watches?: LogWatch[] };
    return Array.isArray(parsed.watches) ? parsed.watches : [];
  } catch {
    return [];
  }
}
