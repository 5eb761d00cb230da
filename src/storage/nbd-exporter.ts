/**
 * The fencing NBD export of a shared pool (`hangar storage-export`), run on the storage host.
 *
 * Nodes never open an export pool's disk files: their QEMU reaches each disk through this
 * export, under the name `<volume>@<token>`, where the token is the create revision of the
 * disk's owner key in etcd (src/etcd/disk-owners.ts). The exporter reads the pool's owner
 * keys every `pollMs` and makes its exports match them, removals first, in one consistent
 * read: a key gone (its node's lease expired, or the node let it go) ends its export and
 * drops every connection to it at once (`block-export-del` mode hard), so a QEMU still
 * running on a lost or frozen node can no longer write. A new owner's key has a new token,
 * so a new name the stale QEMU never knew; its export is made only in a read that no longer
 * holds the old key. With etcd out of reach, the exports stay as they are: no new owner can
 * come up meanwhile (its key could not be written).
 *
 * One qemu-storage-daemon serves every export, on a unix socket; a TCP relay in this process
 * carries the nodes' connections to it with TCP_NODELAY on (QEMU 7.2's NBD server does not
 * set it, and with several requests in flight Nagle's algorithm and delayed ACKs made each
 * one wait ~20 ms: 4 KiB reads at queue depth 4 ran 100x slower than at depth 1). Ending an
 * export drops its unix connection, and the relay closes the TCP one with it.
 * The client side opens the qcow2 over NBD
 * (the file's bytes), so snapshots, bitmaps and the rest work as on a local file. NBD
 * exports have a fixed size and qcow2 allocates new clusters past its end, so each file is
 * first made longer, sparsely, to twice its virtual size plus 256 MiB: room that costs no
 * disk space until the guest writes it.
 */
import { mkdir, rm, stat, truncate } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { EtcdClient } from '../etcd/client.js';
import { diskOwnersPrefix, fencedExportName, parseDiskOwner } from '../etcd/disk-owners.js';
import { errorText } from '../errors/errors.js';
import { launchStorageDaemon, type RunningStorageDaemon } from '../qemu/storage-daemon.js';
import { imageInfo } from './qemu-img.js';

export interface NbdExporterOptions {
  etcd: Pick<EtcdClient, 'rangeAll'>;
  /** The cluster's key prefix in etcd. */
  prefix: string;
  pool: string;
  /** The pool's directory on this host. */
  dir: string;
  listen: { host: string; port: number };
  /** Where the storage daemon's QMP socket goes. */
  runDir: string;
  log: (msg: string) => void;
  pollMs?: number;
  binary?: string;
}

interface Served {
  name: string;
  volume: string;
  token: number;
  node: string;
}

const ROOM_BYTES = 256 * 1024 * 1024;

/** The length an export pool's file gets before it is exported (sparse: no space used). */
export function exportLength(virtualBytes: number, fileBytes: number): number {
  const want = 2 * virtualBytes + ROOM_BYTES;
  const rounded = Math.ceil(want / (1024 * 1024)) * 1024 * 1024;
  return Math.max(rounded, fileBytes);
}

export class NbdExporter {
  private daemon?: RunningStorageDaemon;
  private readonly served = new Map<string, Served>();
  /** Exports that could not be made, and why (said once each). */
  private readonly failed = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private etcdDown = false;
  private stopped = false;
  private relay?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly o: NbdExporterOptions) {}

  /** Starts the storage daemon and its NBD server, makes the first round of exports, and polls. */
  async start(): Promise<void> {
    await mkdir(this.o.runDir, { recursive: true, mode: 0o700 });
    this.daemon = await launchStorageDaemon(join(this.o.runDir, `export-${this.o.pool}.qmp`), [], this.o.binary);
    void this.daemon.exited.then((code) => {
      if (!this.stopped) this.o.log(`qemu-storage-daemon ended (${String(code)}): every export of pool ${this.o.pool} is gone`);
    });
    const unixPath = join(this.o.runDir, `export-${this.o.pool}.nbd`);
    await rm(unixPath, { force: true });
    await this.daemon.qmp.execute('nbd-server-start', { addr: { type: 'unix', data: { path: unixPath } } });
    await this.startRelay(unixPath);
    this.o.log(`serving pool ${this.o.pool} (${this.o.dir}) over NBD on ${this.o.listen.host}:${this.o.listen.port}`);
    await this.reconcile();
    this.timer = setInterval(() => {
      this.running ??= this.reconcile().finally(() => (this.running = undefined));
    }, this.o.pollMs ?? 250);
  }

  /** Carries each TCP connection to the storage daemon's unix socket, both ways, with TCP_NODELAY. */
  private async startRelay(unixPath: string): Promise<void> {
    const server = createServer((tcp) => {
      tcp.setNoDelay(true);
      const unix = connect(unixPath);
      for (const s of [tcp, unix]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      tcp.pipe(unix);
      unix.pipe(tcp);
      tcp.on('close', () => unix.destroy());
      unix.on('close', () => tcp.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.listen.port, this.o.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.relay = server;
  }

  /** The exports now, by name. */
  exports(): Served[] {
    return [...this.served.values()];
  }

  /** Makes the exports match the owner keys of one read: removals first. */
  async reconcile(): Promise<void> {
    let kvs;
    try {
      kvs = (await this.o.etcd.rangeAll(diskOwnersPrefix(this.o.prefix, this.o.pool))).kvs;
      if (this.etcdDown) this.o.log('etcd answers again');
      this.etcdDown = false;
    } catch (e) {
      if (!this.etcdDown) this.o.log(`etcd cannot be read (${errorText(e)}): the exports stay as they are until it can`);
      this.etcdDown = true;
      return;
    }
    const want = new Map<string, Served & { file: string; format: 'qcow2' | 'raw' }>();
    const keyPrefix = diskOwnersPrefix(this.o.prefix, this.o.pool);
    for (const kv of kvs) {
      const owner = parseDiskOwner(kv.value);
      const volume = kv.key.slice(keyPrefix.length);
      if (!owner || !volume) continue;
      const name = fencedExportName(volume, kv.createRevision);
      want.set(name, { name, volume, token: kv.createRevision, node: owner.node, file: owner.file, format: owner.format });
    }
    for (const name of [...this.served.keys()]) {
      if (!want.has(name)) await this.remove(name);
    }
    for (const name of [...this.failed.keys()]) if (!want.has(name)) this.failed.delete(name);
    for (const w of want.values()) {
      if (!this.served.has(w.name)) await this.add(w);
    }
  }

  private async add(w: Served & { file: string; format: 'qcow2' | 'raw' }): Promise<void> {
    const qmp = this.daemon!.qmp;
    const path = join(this.o.dir, w.file);
    const node = `f${w.token}`;
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      if (w.format === 'qcow2') {
        // Room for qcow2 to allocate past the file's end (an export's size is fixed).
        const info = await imageInfo(path, { shared: true, format: 'qcow2' });
        const length = exportLength(info.virtualSizeBytes, st.size);
        if (length > st.size) await truncate(path, length);
      }
      await qmp.execute('blockdev-add', { driver: 'file', 'node-name': node, filename: path });
      try {
        await qmp.execute('block-export-add', { type: 'nbd', id: `e${w.token}`, 'node-name': node, name: w.name, writable: true });
      } catch (e) {
        await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
        throw e;
      }
      this.served.set(w.name, { name: w.name, volume: w.volume, token: w.token, node: w.node });
      this.failed.delete(w.name);
      this.o.log(`export ${w.name} up (node ${w.node})`);
    } catch (e) {
      const why = errorText(e);
      if (this.failed.get(w.name) !== why) this.o.log(`export ${w.name} cannot be made: ${why}`);
      this.failed.set(w.name, why);
    }
  }

  private async remove(name: string): Promise<void> {
    const s = this.served.get(name)!;
    const qmp = this.daemon!.qmp;
    try {
      // hard: every connection is dropped now; a client's next request fails.
      await qmp.execute('block-export-del', { id: `e${s.token}`, mode: 'hard' });
    } catch (e) {
      this.o.log(`export ${name}: removing it failed (${errorText(e)})`);
    }
    for (let i = 0; i < 50; i++) {
      const left = (await qmp.execute('query-block-exports').catch(() => [])) as { id: string }[];
      if (!left.some((x) => x.id === `e${s.token}`)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await qmp.execute('blockdev-del', { 'node-name': `f${s.token}` }).catch((e: unknown) => this.o.log(`export ${name}: its block node stays (${errorText(e)})`));
    this.served.delete(name);
    this.o.log(`export ${name} down (its owner key is gone)`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    this.relay?.close();
    for (const s of this.sockets) s.destroy();
    await this.daemon?.close(5000);
  }
}
