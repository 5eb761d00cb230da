/**
 * `hangar import ovf FILE.ova|FILE.ovf`: a VMware/VirtualBox appliance becomes a stopped
 * Hangar VM with the descriptor's CPU count, memory, firmware, NICs (models, MACs kept) and
 * disks (on their controllers' buses).
 *
 * Order: `checkOvfImport` reads the descriptor (the first file of an OVA) and maps it
 * (mapping.ts); anything that cannot be carried over refuses the import (OVF_UNSUPPORTED,
 * listed) unless ignoreUnsupported; the name, MACs, pool, network and quotas are checked.
 * Nothing exists yet. Then `runOvfImport` (an operation) converts the disks with the image
 * import engine (manifest checks, VMDK → qcow2 with qemu-img, progress) into a private
 * folder of the pool, re-reads the descriptor the manifest verified, moves the disks into
 * the pool as the VM's volumes and records the VM. A failure removes all of it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { open, link, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import { errorText, HangarError } from '../../errors/errors.js';
import { importImage, type ImportProgress } from '../../images/import/index.js';
import { parseManifest } from '../../images/import/ovf.js';
import { parseTarNumber, safeEntryName } from '../../images/import/tar.js';
import { validateHardware } from '../../model/hw.js';
import type { CdromSpec, DiskSpec, NicSpec, VmSpec } from '../../model/spec.js';
import { validateVmName } from '../../model/validate.js';
import type { VmRecord } from '../../model/vm-record.js';
import { macAddress } from '../../network/names.js';
import type { NetworkService } from '../../network/service.js';
import type { OperationContext } from '../../operations/service.js';
import { DEFAULT_PROJECT, type ProjectService } from '../../projects/service.js';
import { DEFAULT_POOL, type StorageService, type VolumeRecord } from '../../storage/service.js';
import type { Store } from '../../store/store.js';
import { checkFitsHost } from '../../vm/capacity.js';
import { createNvram, firmwareSpecFor } from '../../vm/firmware.js';
import type { HostInfo, VmService, VmView } from '../../vm/service.js';
import { planFromOvf, type OvfIssue, type OvfPlan } from './mapping.js';

export interface OvfImportInput {
  /** An .ova archive or an .ovf descriptor (its disk files beside it), absolute, on the daemon's host. */
  file: string;
  name?: string;
  pool?: string;
  /** A managed network every NIC goes on (default: user-mode NICs). */
  network?: string;
  ignoreUnsupported?: boolean;
  dryRun?: boolean;
}

export interface OvfImportResult {
  vm?: VmView;
  name: string;
  cpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'uefi';
  disks: Array<{ diskId: string; bus: string; source?: string; pool: string; volume: string; sizeBytes: number }>;
  nics: Array<{ id: string; model: string; mac: string; macFromOvf: boolean; network?: string }>;
  unsupported: OvfIssue[];
  notes: OvfIssue[];
  dryRun: boolean;
}

export interface OvfImportDeps {
  vms: Pick<VmService, 'createRestored'>;
  storage: StorageService;
  networks?: Pick<NetworkService, 'get' | 'tapFor'>;
  store: Pick<Store, 'listVms'>;
  projects?: Pick<ProjectService, 'check'>;
  host: HostInfo;
  qemuVersion: string;
}

/** What the check found: the plan and the VM's settled identity, for the operation. */
export interface CheckedOvfImport {
  input: OvfImportInput;
  kind: 'ova' | 'ovf';
  xml: string;
  plan: OvfPlan;
  name: string;
  pool: string;
  vmId: string;
  nics: NicSpec[];
}

const MAX_DESCRIPTOR = 4 << 20;

function bad(message: string, field = 'file'): HangarError {
  return new HangarError('INVALID_SPEC', message, { details: { field } });
}

/** The descriptor of an OVA: the first `.ovf` entry (OVF puts it first), read without unpacking the rest. */
export async function readOvaDescriptor(path: string): Promise<{ name: string; xml: string }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let pos = 0;
    let longName: string | undefined;
    for (let n = 0; n < 32 && pos + 512 <= size; n++) {
      const h = Buffer.alloc(512);
      await fh.read(h, 0, 512, pos);
      if (h.every((b) => b === 0)) break;
      const entrySize = parseTarNumber(h.subarray(124, 136));
      const type = String.fromCharCode(h[156] ?? 48);
      const body = pos + 512;
      pos = body + Math.ceil(entrySize / 512) * 512;
      if (type === 'x' || type === 'L') {
        const meta = Buffer.alloc(Math.min(entrySize, 65536));
        await fh.read(meta, 0, meta.length, body);
        const text = meta.toString('utf8');
        longName = type === 'L' ? text.replace(/\0.*$/s, '') : /\d+ path=([^\n]*)\n/.exec(text)?.[1];
        continue;
      }
      if (type === 'g') continue;
      const prefix = h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
      const short = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      const name = longName ?? (prefix ? `${prefix}/${short}` : short);
      longName = undefined;
      if (!/\.ovf$/i.test(name) || (type !== '0' && type !== '\0')) continue;
      if (entrySize > MAX_DESCRIPTOR) throw new HangarError('OVF_INVALID', `The OVF descriptor ${name} in ${path} is larger than ${MAX_DESCRIPTOR} bytes.`);
      const buf = Buffer.alloc(entrySize);
      await fh.read(buf, 0, entrySize, body);
      return { name, xml: buf.toString('utf8') };
    }
  } catch (e) {
    if (e instanceof HangarError) throw e;
    throw new HangarError('OVF_INVALID', `${path} is not a readable OVA (tar) archive: ${errorText(e)}.`, { cause: e });
  } finally {
    await fh.close();
  }
  throw new HangarError('OVF_INVALID', `${path} has no .ovf descriptor among its first files: it is not an OVA appliance.`);
}

async function isTar(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const h = Buffer.alloc(512);
    const { bytesRead } = await fh.read(h, 0, 512, 0);
    return bytesRead === 512 && h.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    await fh.close();
  }
}

/** Reads and maps the descriptor and checks everything the VM needs; makes nothing. */
export async function checkOvfImport(deps: OvfImportDeps, input: OvfImportInput): Promise<CheckedOvfImport> {
  if (typeof input.file !== 'string' || !isAbsolute(input.file)) throw bad(`The appliance must be given by an absolute path on the daemon's host, not "${String(input.file)}".`);
  const st = await stat(input.file).catch(() => undefined);
  if (!st) throw new HangarError('NOT_FOUND', `There is no file ${input.file} on the daemon's host.`, { details: { field: 'file' } });
  if (!st.isFile()) throw bad(`${input.file} is not a regular file: give an .ova archive or an .ovf descriptor.`);
  let kind: 'ova' | 'ovf';
  let xml: string;
  if (await isTar(input.file)) {
    kind = 'ova';
    xml = (await readOvaDescriptor(input.file)).xml;
  } else {
    if (st.size > MAX_DESCRIPTOR) throw new HangarError('OVF_INVALID', `${input.file} is neither an OVA (tar) archive nor an OVF descriptor (it is larger than ${MAX_DESCRIPTOR} bytes).`);
    kind = 'ovf';
    xml = await readFile(input.file, 'utf8');
  }
  const plan = planFromOvf(xml);
  const name = validateVmName(input.name ?? plan.name);
  const all = await deps.store.listVms();
  if (all.some((v) => v.name === name)) throw new HangarError('VM_EXISTS', `A VM named "${name}" already exists: import with --name NEW, or delete it first.`);
  if (kind === 'ovf') {
    for (const d of plan.disks) {
      const f = d.disk.file;
      if (!f) continue;
      if (/^[a-z][a-z0-9+.-]*:/i.test(f.href) || safeEntryName(f.href) === null) throw new HangarError('OVF_INVALID', `The OVF refers to the disk "${f.href}", which is not a file beside the descriptor.`);
      if (f.compression !== undefined && f.compression !== 'identity') plan.unsupported.push({ path: `References/File[id=${f.id}]`, reason: `${f.compression}-compressed disk files are read from OVAs only: pack the appliance as an OVA` });
    }
  }
  for (const d of plan.disks) if (d.disk.file?.chunkSize !== undefined) plan.unsupported.push({ path: `References/File[id=${d.disk.file.id}]`, reason: 'a disk stored in chunks: re-export without chunking' });
  if (plan.unsupported.length > 0 && !input.ignoreUnsupported) {
    throw new HangarError('OVF_UNSUPPORTED',
      `The appliance has ${plan.unsupported.length} element(s) Hangar cannot carry over: ${plan.unsupported.map((u) => `${u.path}: ${u.reason}`).join('; ')}. Nothing was made; import with --ignore-unsupported to leave them out.`,
      { details: { unsupported: plan.unsupported, notes: plan.notes } });
  }
  const pool = input.pool ?? DEFAULT_POOL;
  const pools = await deps.storage.listPools();
  if (!pools.some((p) => p.name === pool)) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${pool}": see \`hangar pool list\`.`, { details: { field: 'pool' } });
  const taken = new Set((await deps.storage.listVolumes(pool)).map((v) => v.name));
  for (const i of plan.disks.keys()) if (taken.has(volumeName(name, i))) throw new HangarError('VOLUME_EXISTS', `Pool "${pool}" has a volume "${volumeName(name, i)}" already: import with --name NEW.`);
  if (input.network !== undefined) {
    if (!deps.networks) throw bad('This daemon has no managed networks.', 'network');
    await deps.networks.get(input.network);
  }
  checkFitsHost(deps.host, name, plan.cpus, plan.memoryMiB);
  await deps.projects?.check(DEFAULT_PROJECT, { vms: 1, cpus: plan.cpus, memoryMiB: plan.memoryMiB, diskBytes: plan.disks.reduce((n, d) => n + (d.capacityBytes ?? 0), 0) });
  const vmId = randomBytes(6).toString('hex');
  const nics = nicsOf(plan, all, vmId, input.network, deps.networks);
  return { input, kind, xml, plan, name, pool, vmId, nics };
}

function volumeName(vm: string, i: number): string {
  return `${vm}-disk${i}`;
}

function nicsOf(plan: OvfPlan, all: VmRecord[], vmId: string, network: string | undefined, nets: OvfImportDeps['networks']): NicSpec[] {
  const taken = new Set(all.flatMap((v) => v.spec.nics.map((n) => n.mac.toLowerCase())));
  return plan.nics.map((n, i) => {
    const id = `net${i}`;
    if (n.mac !== undefined && taken.has(n.mac)) {
      throw new HangarError('INVALID_SPEC', `MAC ${n.mac} of ${n.path} is another VM's already on this host: MACs are kept on import, so delete that VM or change the MAC in the descriptor.`, { details: { field: 'mac', mac: n.mac } });
    }
    const mac = n.mac ?? macAddress(`${vmId}/${id}`, taken);
    taken.add(mac);
    const nic: NicSpec = network !== undefined && nets
      ? { id, kind: 'network', network, tap: nets.tapFor(vmId, id), mac, forwards: [] }
      : { id, kind: 'user', mac, forwards: [] };
    if (n.model !== 'virtio') nic.model = n.model;
    if (n.connection !== undefined) plan.notes.push({ path: n.path, reason: `connected to "${n.connection}" under the source hypervisor: here ${network !== undefined ? `on network ${network}` : 'user-mode (NAT); give --network NET for a managed network'}` });
    return nic;
  });
}

function progressOf(ctx: OperationContext | undefined, p: ImportProgress, prefix?: string): void {
  ctx?.progress({ phase: p.phase, ...(p.percent !== undefined && { percent: p.percent }), bytesDone: p.bytesDone, ...(p.bytesTotal !== undefined && { bytesTotal: p.bytesTotal }), ...(p.message !== undefined && { message: prefix ? `${prefix}: ${p.message}` : p.message }) });
}

/** The manifest beside an .ovf (same base name, .mf), if any: each file's algorithm and digest. */
async function ovfManifest(file: string): Promise<Map<string, { algorithm: string; digest: string }>> {
  const mf = join(dirname(file), `${basename(file).replace(/\.ovf$/i, '')}.mf`);
  const text = await readFile(mf, 'utf8').catch(() => undefined);
  const out = new Map<string, { algorithm: string; digest: string }>();
  for (const m of text === undefined ? [] : parseManifest(text)) out.set(posix.normalize(m.file), m);
  return out;
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  const fh = await open(path, 'r');
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  } finally {
    await fh.close().catch(() => undefined);
  }
  return h.digest('hex');
}

/** Converts the disks (files beside an .ovf, each verified against the manifest if there is one). */
async function convertOvfFiles(c: CheckedOvfImport, out: string, work: string, ctx?: OperationContext): Promise<Map<number, string>> {
  const manifest = await ovfManifest(c.input.file);
  const own = manifest.get(basename(c.input.file));
  if (own && (await hashFile(c.input.file, own.algorithm)) !== own.digest) {
    throw new HangarError('CHECKSUM_MISMATCH', `The manifest's ${own.algorithm.toUpperCase()} of ${basename(c.input.file)} does not match the file: the appliance is damaged or was modified.`);
  }
  const paths = new Map<number, string>();
  const files = c.plan.disks.filter((d) => d.disk.file !== undefined);
  for (const [n, d] of files.entries()) {
    const href = d.disk.file!.href;
    const src = join(dirname(c.input.file), safeEntryName(href)!);
    const m = manifest.get(posix.normalize(href));
    if (m && m.algorithm !== 'sha256' && (await hashFile(src, m.algorithm)) !== m.digest) {
      throw new HangarError('CHECKSUM_MISMATCH', `The manifest's ${m.algorithm.toUpperCase()} of ${href} does not match the file: the appliance is damaged or was modified.`);
    }
    const r = await importImage({ file: src }, {
      workDir: work, destDir: out, destName: `d${d.fileIndex}`, signal: ctx?.signal, ...(m?.algorithm === 'sha256' && { sha256: m.digest }),
      onProgress: (p) => progressOf(ctx, p, `disk ${n + 1} of ${files.length}`),
    });
    paths.set(d.fileIndex!, r.path);
  }
  return paths;
}

/** The operation: converts the disks, moves them into the pool, records the VM. */
export async function runOvfImport(deps: OvfImportDeps, c: CheckedOvfImport, ctx?: OperationContext): Promise<OvfImportResult> {
  const { plan, name, pool } = c;
  const result: OvfImportResult = {
    name, cpus: plan.cpus, memoryMiB: plan.memoryMiB, firmware: plan.firmware, disks: [],
    nics: c.nics.map((n, i) => ({ id: n.id, model: n.model ?? 'virtio', mac: n.mac, macFromOvf: plan.nics[i]?.mac !== undefined, ...(n.network !== undefined && { network: n.network }) })),
    unsupported: plan.unsupported, notes: plan.notes, dryRun: c.input.dryRun === true,
  };
  if (c.input.dryRun) return result;
  const poolDir = (await deps.storage.listPools()).find((p) => p.name === pool)?.path;
  if (!poolDir) throw new HangarError('POOL_NOT_FOUND', `There is no storage pool "${pool}".`);
  // Private staging inside the pool: the same filesystem, so the disks move in by a link.
  const tmp = join(poolDir, `.ovf-import-${c.vmId}`);
  const created: VolumeRecord[] = [];
  const linked: string[] = [];
  try {
    await mkdir(join(tmp, 'work'), { recursive: true, mode: 0o700 });
    await mkdir(join(tmp, 'out'), { mode: 0o700 });
    let converted: Map<number, string>;
    if (c.kind === 'ova') {
      const hasFiles = plan.descriptor.disks.some((d) => d.file !== undefined);
      converted = new Map();
      if (hasFiles) {
        const r = await importImage({ file: c.input.file }, {
          workDir: join(tmp, 'work'), destDir: join(tmp, 'out'), destName: 'd', signal: ctx?.signal, onProgress: (p) => progressOf(ctx, p),
        });
        // What the manifest verified must be what was checked.
        if (r.ova?.descriptor !== c.xml) throw new HangarError('OVF_INVALID', `The descriptor in ${c.input.file} changed during the import: nothing was made; import again.`);
        r.ova.disks.forEach((p, i) => converted.set(i, p));
      }
    } else {
      converted = await convertOvfFiles(c, join(tmp, 'out'), join(tmp, 'work'), ctx);
    }
    const disks: DiskSpec[] = [];
    for (const [i, d] of plan.disks.entries()) {
      const volName = volumeName(name, i);
      let vol: VolumeRecord;
      if (d.fileIndex !== undefined) {
        const from = converted.get(d.fileIndex);
        if (!from) throw new HangarError('INTERNAL', `The disk ${d.disk.diskId ?? i} was not converted.`);
        const dest = await deps.storage.pathFor(pool, volName, 'qcow2');
        await link(from, dest);
        linked.push(dest);
        const adopted = await deps.storage.adoptVolume(pool, volName, dest, 'qcow2', name);
        if (!adopted) throw new HangarError('VOLUME_EXISTS', `Pool "${pool}" has a volume "${volName}" already.`);
        vol = adopted;
        linked.pop();
      } else {
        vol = await deps.storage.createVolume({ pool, name: volName, size: d.capacityBytes!, ownedBy: name });
      }
      created.push(vol);
      result.disks.push({ diskId: d.disk.diskId ?? `disk${i}`, bus: d.bus, ...(d.disk.file && { source: d.disk.file.href }), pool, volume: volName, sizeBytes: vol.sizeBytes });
      disks.push({ id: `disk${i}`, path: vol.path, format: 'qcow2', readOnly: false, volume: { pool, name: volName }, ...(i === 0 && { bootIndex: 0 }), ...(d.bus !== 'virtio-blk' && { bus: d.bus }) });
    }
    const cdroms: CdromSpec[] = Array.from({ length: plan.cdroms }, (_, i) => ({ id: `cd${i}`, bus: 'sata' }) as CdromSpec);
    const spec: VmSpec = {
      name, machine: 'q35', cpuModel: 'max', cpus: plan.cpus, memoryMiB: plan.memoryMiB, boot: { kind: 'disk' }, disks, nics: c.nics,
      balloon: true, rng: true, vnc: true, uuid: plan.uuid ?? randomUUID(), ...(cdroms.length > 0 && { cdroms }),
    };
    const fw = await firmwareSpecFor({ firmware: plan.firmware, ...(plan.secureBoot && { secureBoot: true }) }, 'q35', deps.qemuVersion);
    if (fw) spec.firmware = fw;
    validateHardware(spec);
    const nvram = await createNvram(deps.storage, spec);
    if (nvram) created.push(nvram);
    for (const v of created) await deps.storage.markAttached(v.pool, v.name, name);
    const now = new Date().toISOString();
    result.vm = await deps.vms.createRestored({ id: c.vmId, name, spec, state: 'stopped', createdAt: now, updatedAt: now });
    return result;
  } catch (e) {
    for (const v of created) {
      await deps.storage.markAttached(v.pool, v.name, undefined).catch(() => undefined);
      await deps.storage.deleteVolume(v.pool, v.name, { evenIfOwned: true }).catch(() => undefined);
    }
    for (const p of linked) await rm(p, { force: true }).catch(() => undefined);
    throw e;
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}
