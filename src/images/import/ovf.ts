/**
 * Just enough OVF to find an appliance's disks (read with the strict XML reader of src/util/safe-xml.ts): References/File (id → href) and
 * DiskSection/Disk (fileRef), plus the OVA manifest (.mf) with per-file digests.
 */
import { attr, child, children, parseXml, XmlRefusedError, type XmlElement } from '../../util/safe-xml.js';
import { ImportError } from './errors.js';

export interface OvfFile {
  id: string;
  href: string;
  size?: number;
  compression?: string;
  chunkSize?: number;
}

export interface OvfDisk {
  diskId?: string;
  /** The File it is stored in; undefined for a blank disk the appliance expects to be created. */
  file?: OvfFile;
  capacity?: string;
  /** e.g. `byte * 2^30`; absent means bytes. */
  capacityUnits?: string;
  format?: string;
}

export interface OvfDescriptor {
  files: OvfFile[];
  disks: OvfDisk[];
}

function optNumber(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/**
 * The descriptor's Envelope element, read with the strict XML reader: a DTD, an entity
 * declaration or an entity reference (XXE, billion laughs) is refused (BAD_SOURCE).
 */
export function ovfEnvelope(xmlText: string): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(xmlText);
  } catch (e) {
    if (e instanceof XmlRefusedError) throw new ImportError('BAD_SOURCE', `The OVF descriptor is refused: ${e.message}. Nothing was imported.`, { cause: e });
    throw e;
  }
  if (root.local !== 'Envelope') {
    throw new ImportError('BAD_SOURCE', 'The OVF descriptor has no Envelope element; the OVA is damaged or not an OVF appliance.');
  }
  return root;
}

export function parseOvf(xmlText: string): OvfDescriptor {
  return descriptorOf(ovfEnvelope(xmlText));
}

export function descriptorOf(env: XmlElement): OvfDescriptor {
  const refs = child(env, 'References');
  const files: OvfFile[] = (refs ? children(refs, 'File') : []).map((f) => ({
    id: attr(f, 'id') ?? '',
    href: attr(f, 'href') ?? '',
    size: optNumber(attr(f, 'size')),
    compression: attr(f, 'compression') || undefined,
    chunkSize: optNumber(attr(f, 'chunkSize')),
  }));
  const byId = new Map(files.map((f) => [f.id, f]));
  const diskSection = child(env, 'DiskSection') ?? child(env, 'VirtualDiskSection');
  let disks: OvfDisk[] = [];
  if (diskSection !== undefined) {
    disks = children(diskSection, 'Disk').map((d) => {
      const fileRef = attr(d, 'fileRef');
      const diskId = attr(d, 'diskId');
      const file = fileRef ? byId.get(fileRef) : undefined;
      if (fileRef && !file) {
        throw new ImportError('BAD_SOURCE', `The OVF disk "${diskId ?? ''}" refers to a file "${fileRef}" that References does not list; the OVA is damaged.`);
      }
      return { diskId, file, capacity: attr(d, 'capacity'), capacityUnits: attr(d, 'capacityAllocationUnits'), format: attr(d, 'format') };
    });
  } else {
    // No DiskSection: treat the referenced disk-image files as the disks.
    disks = files.filter((f) => /\.(vmdk|vdi|vhdx?|qcow2|img|raw)(\.gz)?$/i.test(f.href)).map((f) => ({ file: f }));
  }
  return { files, disks };
}

export interface ManifestEntry {
  algorithm: string;
  file: string;
  digest: string;
}

/** Parses an OVA manifest: lines like `SHA256(disk1.vmdk)= 0123…`. Unknown lines are ignored. */
export function parseManifest(text: string): ManifestEntry[] {
  const out: ManifestEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$/.exec(line);
    if (m) out.push({ algorithm: (m[1] ?? '').toLowerCase(), file: m[2] ?? '', digest: (m[3] ?? '').toLowerCase() });
  }
  return out;
}
