/**
 * Just enough OVF to find an appliance's disks: References/File (id → href) and
 * DiskSection/Disk (fileRef), plus the OVA manifest (.mf) with per-file digests.
 */
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
  format?: string;
}

export interface OvfDescriptor {
  files: OvfFile[];
  disks: OvfDisk[];
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (m, e: string) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'quot') return '"';
    if (l === 'apos') return "'";
    const code = l.startsWith('#x') ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/** Attributes of a start tag by local name (the namespace prefix dropped). */
function attributes(tagBody: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tagBody.matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    const qname = m[1] ?? '';
    const local = qname.includes(':') ? qname.slice(qname.lastIndexOf(':') + 1) : qname;
    if (qname.startsWith('xmlns')) continue;
    out[local] = decodeEntities(m[2] ?? m[3] ?? '');
  }
  return out;
}

function elements(xml: string, localName: string): Record<string, string>[] {
  const re = new RegExp(`<(?:[\\w.-]+:)?${localName}(?=[\\s/>])([^>]*)>`, 'g');
  return [...xml.matchAll(re)].map((m) => attributes(m[1] ?? ''));
}

function section(xml: string, localName: string): string | undefined {
  const re = new RegExp(`<(?:[\\w.-]+:)?${localName}(?=[\\s/>])[^>]*>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}\\s*>`);
  return re.exec(xml)?.[1];
}

function optNumber(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

export function parseOvf(xmlText: string): OvfDescriptor {
  const xml = xmlText.replace(/<!--[\s\S]*?-->/g, '');
  if (!/<(?:[\w.-]+:)?Envelope[\s>]/.test(xml)) {
    throw new ImportError('BAD_SOURCE', 'The OVF descriptor has no Envelope element; the OVA is damaged or not an OVF appliance.');
  }
  const refs = section(xml, 'References') ?? '';
  const files: OvfFile[] = elements(refs, 'File').map((a) => ({
    id: a.id ?? '',
    href: a.href ?? '',
    size: optNumber(a.size),
    compression: a.compression || undefined,
    chunkSize: optNumber(a.chunkSize),
  }));
  const byId = new Map(files.map((f) => [f.id, f]));
  const diskSection = section(xml, 'DiskSection') ?? section(xml, 'VirtualDiskSection');
  let disks: OvfDisk[] = [];
  if (diskSection !== undefined) {
    disks = elements(diskSection, 'Disk').map((a) => {
      const file = a.fileRef ? byId.get(a.fileRef) : undefined;
      if (a.fileRef && !file) {
        throw new ImportError('BAD_SOURCE', `The OVF disk "${a.diskId ?? ''}" refers to a file "${a.fileRef}" that References does not list; the OVA is damaged.`);
      }
      return { diskId: a.diskId, file, capacity: a.capacity, format: a.format };
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
