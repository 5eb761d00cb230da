/**
 * What an export or import is making outside the daemon's own directories, recorded so
 * that a daemon killed half way does not leave it behind forever.
 *
 * Each export or import in flight has a marker, `<data-dir>/in-flight/<kind>-<token>.json`
 * (written by a rename, so it is whole or absent), naming every path it is about to make
 * (before it makes it) and every volume it made. Each path carries the marker's random token
 * in its name (`.<file>.<token>.export`, `<volume>.<token>.import`). When the export or
 * import ends, failed or not, it has removed what it made and its marker goes.
 *
 * At the next start, `removeLeftovers` reads the markers another daemon process left and
 * removes only what is provably that transfer's: a recorded path whose name carries the
 * marker's token and has the recorded shape (a directory for an export's staging
 * directory, a regular file for an import's copy; never a symlink), owned by the daemon's
 * user (orphaned qemu-img processes writing into it are ended first); a recorded volume
 * whose VM was never made (no VM references it); and a running VM's export, its fleecing
 * nodes and NBD server, from that VM's QEMU. Nothing found by a name pattern alone is touched.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errorText } from '../errors/errors.js';

export type TransferKind = 'export' | 'import';

export interface InFlightMarker {
  kind: TransferKind;
  token: string;
  /** The daemon process that wrote it (a random id per process: pids repeat). */
  daemon: string;
  pid: number;
  createdAt: string;
  /** What it is about (the VM, the archive). */
  about: string;
  /** Paths it makes, recorded before they are made. */
  paths: Array<{ path: string; type: 'dir' | 'file' }>;
  /** Volumes it made for a VM not made yet. */
  volumes: Array<{ pool: string; name: string; vm: string }>;
  /** A running VM's export: the id of the VM whose QEMU exports its disks (fleecing, NBD). */
  liveVm?: string;
}

/** This process's id in the markers it writes. */
const DAEMON_ID = randomBytes(8).toString('hex');
const MARKER = /^(export|import)-([0-9a-f]{16})\.json$/;
const TOKEN = /^[0-9a-f]{16}$/;

/** One export or import in flight: what it makes is recorded before it is made. */
export class Transfer {
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    readonly marker: InFlightMarker,
  ) {}

  get token(): string {
    return this.marker.token;
  }

  /** A path named with this transfer's token (`name(token)`), recorded; make it after this. */
  async path(type: 'dir' | 'file', make: (token: string) => string): Promise<string> {
    const path = make(this.token);
    if (!basename(path).includes(this.token)) throw new Error(`in-flight path ${path} does not carry the token`);
    this.marker.paths.push({ path, type });
    await this.save();
    return path;
  }

  async volume(v: { pool: string; name: string; vm: string }): Promise<void> {
    this.marker.volumes.push({ pool: v.pool, name: v.name, vm: v.vm });
    await this.save();
  }

  /** The export reads a running VM through its QEMU (to be undone there if the daemon dies). */
  async live(vmId: string): Promise<void> {
    this.marker.liveVm = vmId;
    await this.save();
  }

  /** The transfer ended and removed what it made (or handed it over): the marker goes. */
  async end(): Promise<void> {
    await this.writes.catch(() => undefined);
    await rm(this.file, { force: true });
  }

  save(): Promise<void> {
    const text = `${JSON.stringify(this.marker)}\n`;
    this.writes = this.writes.catch(() => undefined).then(async () => {
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return this.writes;
  }
}

export class InFlight {
  constructor(readonly dir: string) {}

  /** Records a new export or import (its marker exists when this returns). */
  async begin(kind: TransferKind, about: string): Promise<Transfer> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const token = randomBytes(8).toString('hex');
    const t = new Transfer(join(this.dir, `${kind}-${token}.json`), {
      kind, token, daemon: DAEMON_ID, pid: process.pid, createdAt: new Date().toISOString(), about, paths: [], volumes: [],
    });
    await t.save();
    return t;
  }

  /** The markers on disk (unreadable ones are skipped). */
  async markers(): Promise<Array<{ file: string; marker: InFlightMarker }>> {
    const out: Array<{ file: string; marker: InFlightMarker }> = [];
    for (const n of (await readdir(this.dir).catch(() => [] as string[])).sort()) {
      const m = MARKER.exec(n);
      if (!m) continue;
      try {
        const marker = JSON.parse(await readFile(join(this.dir, n), 'utf8')) as InFlightMarker;
        if (marker.kind === m[1] && marker.token === m[2] && Array.isArray(marker.paths) && Array.isArray(marker.volumes)) out.push({ file: join(this.dir, n), marker });
      } catch {
        // torn or foreign: left alone
      }
    }
    return out;
  }
}

export interface LeftoverDeps {
  /** True if a VM references the volume (then it is no leftover: the VM was made). */
  volumeInUse(pool: string, name: string, vm: string): Promise<boolean>;
  deleteVolume(pool: string, name: string): Promise<void>;
  /** Removes a live export's fleecing nodes and NBD export from the VM's QEMU (if it runs). */
  endLiveExport?(vmId: string): Promise<void>;
  /** Ends the orphaned processes (qemu-img) still writing into a staging directory. */
  endWriters?(dir: string): Promise<void>;
  /** The daemon's user (default: this process's). */
  uid?: number;
  log?: (msg: string) => void;
}

/** A recorded path is removed only if it is what the transfer made: the token in its name, the type recorded, our owner. */
async function isOurs(p: { path: string; type: 'dir' | 'file' }, token: string, uid: number): Promise<boolean> {
  if (typeof p.path !== 'string' || !p.path.startsWith('/') || p.path.split('/').includes('..')) return false;
  const name = basename(p.path);
  const shape = p.type === 'dir' ? name.startsWith('.') && name.endsWith(`.${token}.export`) : name.endsWith(`.${token}.import`);
  if (!shape) return false;
  const st = await lstat(p.path).catch(() => undefined);
  if (!st || st.isSymbolicLink() || st.uid !== uid) return false;
  return p.type === 'dir' ? st.isDirectory() : st.isFile();
}

/**
 * At daemon start: removes what exports and imports of an earlier daemon process left
 * (markers this process wrote are skipped). Returns what was removed.
 */
export async function removeLeftovers(inFlight: InFlight, deps: LeftoverDeps): Promise<string[]> {
  const log = deps.log ?? (() => {});
  const uid = deps.uid ?? process.getuid?.() ?? 0;
  const removed: string[] = [];
  for (const { file, marker } of await inFlight.markers()) {
    if (marker.daemon === DAEMON_ID || !TOKEN.test(marker.token)) continue;
    let complete = true;
    const gone: string[] = [];
    for (const p of marker.paths) {
      try {
        if (!(await isOurs(p, marker.token, uid))) continue;
        if (p.type === 'dir') await deps.endWriters?.(p.path);
        await rm(p.path, { recursive: p.type === 'dir', force: true });
        gone.push(p.path);
      } catch (e) {
        complete = false;
        log(`removing ${p.path}, left by an interrupted ${marker.kind}, failed: ${errorText(e)}`);
      }
    }
    if (typeof marker.liveVm === 'string' && deps.endLiveExport) {
      try {
        await deps.endLiveExport(marker.liveVm);
      } catch (e) {
        complete = false;
        log(`ending the export a killed daemon left in the QEMU of VM ${marker.liveVm} failed: ${errorText(e)}`);
      }
    }
    for (const v of marker.volumes) {
      try {
        if (await deps.volumeInUse(v.pool, v.name, v.vm)) continue;
        await deps.deleteVolume(v.pool, v.name);
        gone.push(`${v.pool}/${v.name}`);
      } catch (e) {
        complete = false;
        log(`removing volume ${v.pool}/${v.name}, made by an interrupted ${marker.kind}, failed: ${errorText(e)}`);
      }
    }
    if (complete) await rm(file, { force: true });
    removed.push(...gone);
    log(`${marker.kind} (${marker.about}) cut short by an earlier daemon: ${gone.length ? `removed ${gone.join(', ')}` : 'nothing of it was left'}`);
  }
  return removed;
}
