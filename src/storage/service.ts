/**
 * StorageService: pools and volumes. It knows nothing of running guests: VmService
 * marks volumes attached and does the live (QMP) half of attach, detach and resize.
 */
import { existsSync } from 'node:fs';
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseExportAddress } from '../etcd/disk-owners.js';
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import type { Collection, Store } from '../store/store.js';
import { checkNodeList, onNode } from '../store/node-lists.js';
import { qemuImgProcesses } from '../util/orphans.js';
import { formatBytes, parseSizeBytes } from '../util/size.js';
import { DirPool, validateVolumeName, type PoolCapacity, type StoragePool } from './pool.js';
import { convertImage, createImage, imageInfo, resizeImage, type DiskFormat } from './qemu-img.js';

export interface VolumeBacking {
  kind: 'image';
  name: string;
  path: string;
  format: DiskFormat;
}

export interface VolumeRecord {
  pool: string;
  name: string;
  format: DiskFormat;
  sizeBytes: number;
  path: string;
  /** A linked clone reads unwritten blocks from its backing image. */
  backing?: VolumeBacking;
  /** The VM the volume is attached to, if any. */
  attachedTo?: string;
  /** The VM that created it (its root or data disk): deleted with that VM. */
  ownedBy?: string;
  /**
   * A frozen, read-only base volume of the same pool this one is an overlay of (linked
   * clones of a VM: storage/freeze.ts). A base lives while a volume names it.
   */
  base?: { pool: string; name: string };
  /** This volume is such a frozen base: read-only, deleted with its last overlay. */
  frozen?: boolean;
  createdAt: string;
}

export interface PoolRecord {
  name: string;
  kind: 'dir';
  path: string;
  /** Every node of the cluster reaches this same directory: its disks can run on any node. */
  shared?: boolean;
  /** HOST:PORT of the pool's fencing NBD export: nodes open its disks only through it (src/storage/nbd-exporter.ts). */
  export?: string;
  /** In a cluster: the only nodes that have this pool (absent: every node). */
  nodes?: string[];
  createdAt: string;
}

export interface PoolView extends PoolRecord, PoolCapacity {
  volumes: number;
}

export interface CreateVolumeInput {
  pool?: string;
  name: string;
  format?: DiskFormat;
  size?: string | number;
  /** Linked clone (or, with fullCopy, a copy) of an image. */
  fromImage?: { name: string; path: string; format: DiskFormat; virtualSizeBytes: number };
  fullCopy?: boolean;
  ownedBy?: string;
  onProgress?: (percent: number) => void;
}

export const DEFAULT_POOL = 'default';

export function volumeKey(pool: string, name: string): string {
  return `${pool}/${name}`;
}

export class StorageService {
  private readonly pools: Collection<PoolRecord>;
  private readonly volumes: Collection<VolumeRecord>;
  private readonly openPools = new Map<string, StoragePool>();

  constructor(
    private readonly store: Store, private readonly events: EventBus, private readonly dataDir: string,
    /** This node's name in a cluster (undefined on a single host): a pool with a node list is only on those nodes. */
    private readonly node: () => string | undefined = () => undefined,
  ) {
    this.pools = store.collection<PoolRecord>('pools');
    this.volumes = store.collection<VolumeRecord>('volumes');
  }

  /** Creates the default pool inside the data dir if it is not there yet. */
  async init(): Promise<void> {
    if (!(await this.pools.get(DEFAULT_POOL))) {
      await this.pools.create(DEFAULT_POOL, { name: DEFAULT_POOL, kind: 'dir', path: join(this.dataDir, 'pools', DEFAULT_POOL), createdAt: new Date().toISOString() });
    }
    for (const p of await this.pools.list()) {
      if (!onNode(p, this.node())) continue;
      const pool = await this.pool(p.name);
      await this.removePartials(pool.path);
    }
  }

  /**
   * A create or clone the previous daemon did not finish left `NAME.FORMAT.partial` in its
   * pool (and maybe an orphaned qemu-img still writing it): end those processes, remove the
   * files. A qemu-img another live daemon runs (a pool path shared by two data dirs) and its
   * file are left alone; nothing else in a pool is touched. Call it at start, before any volume work.
   */
  private async removePartials(dir: string): Promise<void> {
    const busy = new Set<string>();
    for (const p of await qemuImgProcesses(dir)) {
      if (p.parentIsDaemon) {
        for (const a of p.argv) busy.add(a);
        continue;
      }
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.endsWith('.partial') && !busy.has(join(dir, n))) await rm(join(dir, n), { force: true });
    }
  }

  // ---- pools ---------------------------------------------------------------

  /**
   * `nodes` (in a cluster): the only nodes that have the directory; the pool is opened (made)
   * here only if this node is one of them, elsewhere on first use. A shared pool is on every
   * node by definition (HA and disk ownership count on that), so it takes no list.
   */
  async createPool(name: string, path: string, o: { shared?: boolean; export?: string; nodes?: unknown } = {}): Promise<PoolView> {
    validateVolumeName(name, 'pool');
    if (!path.startsWith('/')) throw new HangarError('INVALID_SPEC', `The pool path must be absolute, not "${path}".`);
    if (o.export !== undefined) {
      if (!o.shared) throw new HangarError('INVALID_SPEC', 'A pool with an NBD export (--export) is a shared pool: add --shared.', { details: { field: 'export' } });
      parseExportAddress(o.export);
    }
    if (o.shared && o.nodes !== undefined) {
      throw new HangarError('INVALID_SPEC', `A shared pool is on every node of the cluster: leave out --nodes, or --shared for a pool only some nodes have.`, { details: { field: 'nodes' } });
    }
    const nodes = o.nodes === undefined ? undefined : await checkNodeList(this.store, this.node(), o.nodes, `pool "${name}"`);
    const rec: PoolRecord = { name, kind: 'dir', path, ...(o.shared && { shared: true }), ...(o.export !== undefined && { export: o.export }), ...(nodes && { nodes }), createdAt: new Date().toISOString() };
    const pool = new DirPool(name, path);
    const here = onNode(rec, this.node());
    if (here) await pool.open();
    if (!(await this.pools.create(name, rec))) throw new HangarError('VOLUME_EXISTS', `A pool named "${name}" exists already.`);
    if (here) this.openPools.set(name, pool);
    await this.events.publish('pool.created', undefined, { pool: name, path, ...(nodes && { nodes }) });
    return this.showPool(name);
  }

  /** Forgets an empty pool (its directory and files stay): an import undoing the pool it made. */
  async forgetPool(name: string): Promise<void> {
    if ((await this.volumes.list()).some((v) => v.pool === name)) throw new HangarError('VOLUME_IN_USE', `Pool "${name}" still has volumes.`);
    await this.pools.delete(name);
    this.openPools.delete(name);
  }

  /** The pool's record (no capacity look-up), or undefined. */
  poolRecord(name: string): Promise<PoolRecord | undefined> {
    return this.pools.get(name);
  }

  async listPools(): Promise<PoolView[]> {
    return Promise.all((await this.pools.list()).map((p) => this.showPool(p.name)));
  }

  async showPool(name: string): Promise<PoolView> {
    const rec = await this.pools.get(name);
    if (!rec) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${name}": see \`hangar pool list\`.`);
    // A pool this node does not have is not measured here (its directory may not exist).
    const cap = onNode(rec, this.node()) ? await (await this.pool(name)).capacity() : { totalBytes: 0, usedBytes: 0, availableBytes: 0 };
    const volumes = (await this.volumes.list()).filter((v) => v.pool === name).length;
    return { ...rec, ...cap, volumes };
  }

  // ---- volumes -------------------------------------------------------------

  async listVolumes(pool?: string): Promise<VolumeRecord[]> {
    return (await this.volumes.list()).filter((v) => pool === undefined || v.pool === pool);
  }

  async getVolume(pool: string, name: string): Promise<VolumeRecord> {
    const v = await this.volumes.get(volumeKey(pool, name));
    if (!v) throw new HangarError('VOLUME_NOT_FOUND', `There is no volume "${name}" in pool "${pool}": see \`hangar volume list\`.`);
    return v;
  }

  async createVolume(input: CreateVolumeInput): Promise<VolumeRecord> {
    const poolName = input.pool ?? DEFAULT_POOL;
    const name = validateVolumeName(input.name);
    const pool = await this.pool(poolName);
    const format = input.fromImage ? 'qcow2' : (input.format ?? 'qcow2');
    if (format !== 'qcow2' && format !== 'raw') throw new HangarError('INVALID_SPEC', `Volume format must be qcow2 or raw, not "${String(format)}".`);
    let sizeBytes = input.size === undefined ? undefined : parseSizeBytes(input.size, 'size');
    if (input.fromImage) {
      const min = input.fromImage.virtualSizeBytes;
      if (sizeBytes !== undefined && sizeBytes < min) {
        throw new HangarError('INVALID_SPEC', `A disk from image "${input.fromImage.name}" must be at least its size, ${formatBytes(min)}; asked for ${formatBytes(sizeBytes)}.`);
      }
      sizeBytes ??= min;
    }
    if (sizeBytes === undefined) throw new HangarError('INVALID_SPEC', 'Give the new volume a size, e.g. --size 4G.');
    const key = volumeKey(poolName, name);
    if (await this.volumes.get(key)) {
      throw new HangarError('VOLUME_EXISTS', `A volume named "${name}" exists in pool "${poolName}": pick another name or delete it first.`);
    }
    await this.ensureSpace(pool, input.fromImage && input.fullCopy ? sizeBytes : 0, name);
    const path = await pool.volumePath(name, format);
    // A file nobody recorded (e.g. a disk a migrated guest still uses from here) is never replaced.
    if (existsSync(path)) throw new HangarError('VOLUME_EXISTS', `Pool "${poolName}" has a file ${path} that is no recorded volume: pick another name.`);
    // Build under a temporary name; only a complete file becomes the volume.
    const tmp = `${path}.partial`;
    await rm(tmp, { force: true });
    try {
      if (input.fromImage && input.fullCopy) {
        await convertImage({ path: input.fromImage.path, format: input.fromImage.format }, { path: tmp, format }, { ...(input.onProgress && { onPercent: input.onProgress }) });
        if (sizeBytes > input.fromImage.virtualSizeBytes) await resizeImage(tmp, format, sizeBytes);
      } else if (input.fromImage) {
        await createImage(tmp, 'qcow2', sizeBytes, { path: input.fromImage.path, format: input.fromImage.format });
      } else {
        await createImage(tmp, format, sizeBytes);
      }
      const rec: VolumeRecord = { pool: poolName, name, format, sizeBytes, path, createdAt: new Date().toISOString() };
      if (input.fromImage && !input.fullCopy) rec.backing = { kind: 'image', name: input.fromImage.name, path: input.fromImage.path, format: input.fromImage.format };
      if (input.ownedBy !== undefined) rec.ownedBy = input.ownedBy;
      if (!(await this.volumes.create(key, rec))) {
        throw new HangarError('VOLUME_EXISTS', `A volume named "${name}" was created meanwhile in pool "${poolName}".`);
      }
      await rename(tmp, path);
      await this.events.publish('volume.created', undefined, { pool: poolName, volume: name, sizeBytes, ...(rec.backing && { image: rec.backing.name }) });
      return rec;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** A full, independent copy (a linked clone of a writable volume would break when it is written). */
  async cloneVolume(pool: string, name: string, newName: string, opts: { onProgress?: (p: number) => void; shared?: boolean } = {}): Promise<VolumeRecord> {
    const src = await this.getVolume(pool, name);
    validateVolumeName(newName);
    const dst = await this.pool(pool);
    const key = volumeKey(pool, newName);
    if (await this.volumes.get(key)) throw new HangarError('VOLUME_EXISTS', `A volume named "${newName}" exists in pool "${pool}".`);
    await this.ensureSpace(dst, (await imageInfo(src.path, { format: src.format, shared: true })).actualSizeBytes, newName);
    const path = await dst.volumePath(newName, src.format);
    const tmp = `${path}.partial`;
    try {
      await convertImage({ path: src.path, format: src.format }, { path: tmp, format: src.format }, { ...(opts.onProgress && { onPercent: opts.onProgress }), ...(opts.shared && { shared: true }) });
      const rec: VolumeRecord = { pool, name: newName, format: src.format, sizeBytes: src.sizeBytes, path, createdAt: new Date().toISOString() };
      if (!(await this.volumes.create(key, rec))) throw new HangarError('VOLUME_EXISTS', `A volume named "${newName}" was created meanwhile.`);
      await rename(tmp, path);
      await this.events.publish('volume.created', undefined, { pool, volume: newName, clonedFrom: name });
      return rec;
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** Grows a volume that no running guest uses (VmService grows attached ones live). */
  /**
   * Grows a volume. With `live`, QEMU has grown the file (block_resize) and only the record
   * changes; with `dryRun`, only the checks run and the new record is returned.
   */
  async resizeVolume(pool: string, name: string, size: string | number, opts: { live?: boolean; dryRun?: boolean } = {}): Promise<VolumeRecord> {
    const vol = await this.getVolume(pool, name);
    const sizeBytes = parseSizeBytes(size, 'size');
    if (sizeBytes < vol.sizeBytes) {
      throw new HangarError('INVALID_SPEC', `Volume "${name}" is ${formatBytes(vol.sizeBytes)}; shrinking to ${formatBytes(sizeBytes)} would destroy data. Only growing is supported.`);
    }
    if (sizeBytes === vol.sizeBytes || opts.dryRun) return { ...vol, sizeBytes };
    if (!opts.live) await resizeImage(vol.path, vol.format, sizeBytes);
    return this.recordVolume({ ...vol, sizeBytes }, 'volume.resized', { sizeBytes });
  }

  async deleteVolume(pool: string, name: string, opts: { evenIfOwned?: boolean } = {}): Promise<void> {
    const vol = await this.getVolume(pool, name);
    if (vol.attachedTo !== undefined) {
      throw new HangarError('VOLUME_IN_USE', `Volume "${name}" is attached to VM "${vol.attachedTo}": detach it first (\`hangar volume detach ${name}\`).`);
    }
    if (vol.ownedBy !== undefined && !opts.evenIfOwned) {
      throw new HangarError('VOLUME_IN_USE', `Volume "${name}" is a disk of VM "${vol.ownedBy}": it is deleted with that VM.`);
    }
    if (vol.frozen) {
      const users = await this.overlaysOf(pool, name);
      if (users.length > 0) throw new HangarError('VOLUME_IN_USE', `Volume "${name}" is the frozen base of ${users.map((u) => `"${u.name}"`).join(', ')}: it goes when they do.`);
    }
    await this.volumes.delete(volumeKey(pool, name));
    await rm(vol.path, { force: true });
    await this.events.publish('volume.deleted', undefined, { pool, volume: name });
    // A frozen base nobody reads any more goes too.
    if (vol.base && (await this.overlaysOf(vol.base.pool, vol.base.name)).length === 0) {
      const base = await this.volumes.get(volumeKey(vol.base.pool, vol.base.name));
      if (base?.frozen) await this.deleteVolume(base.pool, base.name);
    }
  }

  /** The volumes that are overlays of frozen base `name`. */
  async overlaysOf(pool: string, name: string): Promise<VolumeRecord[]> {
    return (await this.volumes.list()).filter((v) => v.base?.pool === pool && v.base.name === name);
  }

  /** The files a volume reads through (frozen bases, then an image), nearest first. */
  async chainPaths(pool: string, name: string): Promise<string[]> {
    const out: string[] = [];
    let v = await this.volumes.get(volumeKey(pool, name));
    for (let depth = 0; v && depth < 64; depth++) {
      if (v.backing) out.push(v.backing.path);
      if (!v.base) break;
      v = await this.volumes.get(volumeKey(v.base.pool, v.base.name));
      if (v) out.push(v.path);
    }
    return out;
  }

  /** Writes a volume record as it is now (storage/freeze.ts: a volume that became an overlay, a new base). */
  async putVolume(rec: VolumeRecord, opts: { create?: boolean } = {}): Promise<void> {
    const key = volumeKey(rec.pool, rec.name);
    if (opts.create) {
      if (!(await this.volumes.create(key, rec))) throw new HangarError('VOLUME_EXISTS', `A volume named "${rec.name}" exists in pool "${rec.pool}".`);
      await this.events.publish('volume.created', undefined, { pool: rec.pool, volume: rec.name, sizeBytes: rec.sizeBytes });
    } else {
      await this.volumes.update(key, rec);
    }
  }

  /** Where a new volume of this pool would live (its name checked, the pool opened). */
  async pathFor(pool: string, name: string, format: DiskFormat = 'qcow2'): Promise<string> {
    return (await this.pool(pool)).volumePath(validateVolumeName(name), format);
  }

  /**
   * Forgets a volume without touching its file: after a live migration with shared storage,
   * the destination records and owns the file.
   */
  async forgetVolume(pool: string, name: string): Promise<void> {
    await this.getVolume(pool, name);
    await this.volumes.delete(volumeKey(pool, name));
    await this.events.publish('volume.forgotten', undefined, { pool, volume: name });
  }

  /**
   * Records an existing file as a volume of a pool of this host, if the pool is here and the
   * file is in it (shared storage after a live migration). Returns undefined otherwise.
   */
  async adoptVolume(pool: string, name: string, path: string, format: DiskFormat, ownedBy: string): Promise<VolumeRecord | undefined> {
    const p = await this.pools.get(pool);
    if (!p || !onNode(p, this.node()) || (await (await this.pool(pool)).volumePath(validateVolumeName(name), format)) !== path) return undefined;
    const info = await imageInfo(path, { format, shared: true });
    const rec: VolumeRecord = { pool, name, format, sizeBytes: info.virtualSizeBytes, path, ownedBy, createdAt: new Date().toISOString() };
    // The image it was cloned from, known here by its file only.
    if (info.backingFilename) rec.backing = { kind: 'image', name: basename(info.backingFilename).replace(/\.[^.]*$/, ''), path: info.backingFilename, format: info.backingFormat === 'raw' ? 'raw' : 'qcow2' };
    const existing = await this.volumes.get(volumeKey(pool, name));
    if (existing) return existing.path === path ? existing : undefined;
    if (!(await this.volumes.create(volumeKey(pool, name), rec))) return undefined;
    return rec;
  }

  /** Volumes that read from `image` (linked clones): the image must stay while they exist. */
  async dependentsOfImage(image: string): Promise<VolumeRecord[]> {
    return (await this.volumes.list()).filter((v) => v.backing?.kind === 'image' && v.backing.name === image);
  }

  async markAttached(pool: string, name: string, vm: string | undefined): Promise<VolumeRecord> {
    const vol = await this.getVolume(pool, name);
    if (vm !== undefined && vol.attachedTo !== undefined && vol.attachedTo !== vm) {
      throw new HangarError('VOLUME_IN_USE', `Volume "${name}" is attached to VM "${vol.attachedTo}": a volume belongs to one VM at a time.`);
    }
    const next = { ...vol };
    if (vm === undefined) delete next.attachedTo;
    else next.attachedTo = vm;
    await this.volumes.update(volumeKey(pool, name), next);
    return next;
  }

  private async recordVolume(vol: VolumeRecord, event: 'volume.resized', data: { sizeBytes: number }): Promise<VolumeRecord> {
    await this.volumes.update(volumeKey(vol.pool, vol.name), vol);
    await this.events.publish(event, undefined, { pool: vol.pool, volume: vol.name, ...data });
    return vol;
  }

  /** The pool, opened; POOL_NOT_FOUND, or POOL_NOT_ON_NODE where its node list leaves this node out. */
  private async pool(name: string): Promise<StoragePool> {
    const rec = await this.pools.get(name);
    if (!rec) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${name}": see \`hangar pool list\`.`);
    if (!onNode(rec, this.node())) {
      throw new HangarError('POOL_NOT_ON_NODE', `Pool "${name}" is not on node "${this.node()}" (only on ${rec.nodes!.join(', ')}): use it there, or another pool.`, { details: { pool: name, node: this.node(), nodes: rec.nodes } });
    }
    let pool = this.openPools.get(name);
    if (pool) return pool;
    pool = new DirPool(rec.name, rec.path);
    await pool.open();
    this.openPools.set(name, pool);
    return pool;
  }

  private async ensureSpace(pool: StoragePool, bytes: number, what: string): Promise<void> {
    const cap = await pool.capacity();
    if (bytes > cap.availableBytes) {
      throw new HangarError('STORAGE_FULL', `Pool "${pool.name}" has ${formatBytes(cap.availableBytes)} free; "${what}" needs ${formatBytes(bytes)}.`);
    }
  }
}
