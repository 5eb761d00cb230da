/**
 * How a node reaches the disks of shared pools in a cluster (issue 17, storage fencing).
 *
 * Before QEMU starts, each disk on a shared pool is claimed: its owner key in etcd, bound to
 * the node's lease (src/cluster/disk-owners.ts). A disk of a pool with a fencing NBD export
 * is then opened through that export, under the name the key's token gives, never from the
 * file: the node waits until the export serves it. When QEMU has ended here (and the VM is
 * still this node's: not handed over by a migration) the keys are let go. On a single host,
 * and for disks of pools that are not shared, nothing changes.
 */
import { basename } from 'node:path';
import { fencedExportName, parseExportAddress } from '../etcd/disk-owners.js';
import { errorText, HangarError } from '../errors/errors.js';
import type { DiskSpec } from '../model/spec.js';
import type { VmRecord } from '../model/vm-record.js';
import type { NbdDiskTarget } from '../qemu/argv.js';
import { runQemuImg } from '../storage/qemu-img.js';

export interface DiskClaim {
  pool: string;
  volume: string;
  file: string;
  format: 'qcow2' | 'raw';
}

/** The cluster's disk owner keys, as the VM layer sees them (absent on a single host). */
export interface DiskOwnerHooks {
  /** `from`: the node a move handed the VM over from; a key it still holds is taken. */
  claim(vmId: string, claims: readonly DiskClaim[], o?: { from?: string }): Promise<number[]>;
  tokens(claims: readonly DiskClaim[]): Promise<(number | undefined)[]>;
  release(vmId: string, claims: readonly DiskClaim[]): Promise<void>;
}

export interface DiskAccessDeps {
  pool: (name: string) => Promise<{ shared?: boolean; export?: string } | undefined>;
  owners: () => DiskOwnerHooks | undefined;
  /** This node's name in a cluster. */
  node: () => string | undefined;
  /** The VM's record now (undefined: gone). */
  record: (name: string) => Promise<VmRecord | undefined>;
  log: (msg: string) => void;
  /** How long a start waits for the export to serve a disk (default 15 s). */
  exportWaitMs?: number;
}

interface SharedDisk {
  disk: DiskSpec;
  claim: DiskClaim;
  export?: string;
}

/** The node a move handed the VM over from, when it was handed to `self`. */
function movedFrom(rec: Pick<VmRecord, 'lastMove'>, self: string | undefined): string | undefined {
  const m = rec.lastMove;
  return m && self !== undefined && m.to === self ? m.from : undefined;
}

export class DiskAccess {
  constructor(private readonly d: DiskAccessDeps) {}

  private async sharedDisks(rec: Pick<VmRecord, 'spec'>): Promise<SharedDisk[]> {
    const out: SharedDisk[] = [];
    for (const disk of rec.spec.disks) {
      if (!disk.volume || disk.readOnly) continue;
      const pool = await this.d.pool(disk.volume.pool);
      if (!pool?.shared) continue;
      out.push({ disk, claim: { pool: disk.volume.pool, volume: disk.volume.name, file: basename(disk.path), format: disk.format }, ...(pool.export !== undefined && { export: pool.export }) });
    }
    return out;
  }

  /**
   * Claims the VM's shared disks for this node (an arriving migration only reads their
   * tokens: the source still holds them) and returns the NBD targets of export-pool disks,
   * once the export serves each.
   */
  async beforeLaunch(rec: VmRecord, o: { incoming?: boolean } = {}): Promise<Record<string, NbdDiskTarget>> {
    const owners = this.d.owners();
    if (!owners) return {};
    const shared = await this.sharedDisks(rec);
    if (!shared.length) return {};
    const claims = shared.map((s) => s.claim);
    const from = movedFrom(rec, this.d.node());
    const tokens = o.incoming ? await owners.tokens(claims) : await owners.claim(rec.id, claims, from !== undefined ? { from } : {});
    const targets: Record<string, NbdDiskTarget> = {};
    for (const [i, s] of shared.entries()) {
      if (s.export === undefined) continue;
      const token = tokens[i];
      if (token === undefined) throw new HangarError('STORAGE_EXPORT_UNAVAILABLE', `Disk ${s.claim.pool}/${s.claim.volume} of VM "${rec.name}" has no owner: its export does not exist.`, { details: { pool: s.claim.pool, volume: s.claim.volume } });
      const addr = parseExportAddress(s.export);
      targets[s.disk.id] = { host: addr.host, port: addr.port, export: fencedExportName(s.claim.volume, token) };
    }
    try {
      await Promise.all(Object.entries(targets).map(([id, t]) => this.waitServed(rec.name, id, t)));
    } catch (e) {
      // QEMU will not start: the keys just claimed go again.
      if (!o.incoming) await owners.release(rec.id, claims).catch(() => undefined);
      throw e;
    }
    return targets;
  }

  /** Waits until the export serves the disk (its exporter polls the owner keys). */
  private async waitServed(vm: string, diskId: string, t: NbdDiskTarget): Promise<void> {
    const spec = JSON.stringify({ driver: 'nbd', server: { type: 'inet', host: t.host, port: String(t.port) }, export: t.export });
    const until = Date.now() + (this.d.exportWaitMs ?? 15_000);
    let last = '';
    for (;;) {
      try {
        await runQemuImg(['info', '--output=json', `json:${spec}`], { what: `probing the export of ${vm}'s ${diskId}`, timeoutMs: 5000 });
        return;
      } catch (e) {
        last = errorText(e);
      }
      if (Date.now() > until) {
        throw new HangarError('STORAGE_EXPORT_UNAVAILABLE', `VM "${vm}": the pool's NBD export at ${t.host}:${t.port} does not serve disk ${diskId} (${t.export}): ${last.split('\n')[0]}. Is \`hangar storage-export\` running for this pool?`, { details: { disk: diskId } });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** After a hand-over (the record names this node now): the disks' keys become this node's, tokens kept. */
  async takeOver(rec: VmRecord): Promise<void> {
    const owners = this.d.owners();
    if (!owners) return;
    const shared = await this.sharedDisks(rec);
    const from = movedFrom(rec, this.d.node());
    if (shared.length && from !== undefined) await owners.claim(rec.id, shared.map((s) => s.claim), { from });
  }

  /** QEMU has ended here: lets the keys go, unless the VM is another node's now (moved). */
  async afterExit(vmId: string, name: string): Promise<void> {
    const owners = this.d.owners();
    if (!owners) return;
    try {
      const rec = await this.d.record(name);
      if (!rec || rec.id !== vmId || (rec.node !== undefined && rec.node !== this.d.node())) return;
      if (rec.state === 'running' || rec.state === 'paused' || rec.state === 'migrating') return;
      const shared = await this.sharedDisks(rec);
      if (shared.length) await owners.release(vmId, shared.map((s) => s.claim));
    } catch (e) {
      // Out of reach: the keys go with the node's lease if it expires; a later start here reuses them.
      this.d.log(`${name}: letting its disks' owner keys go failed: ${errorText(e)}`);
    }
  }
}
