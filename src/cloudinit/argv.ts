/**
 * The QEMU arguments that attach a seed ISO read-only as a virtio disk (cloud-init finds it
 * by its volume label, whatever the device). JSON forms only.
 */
export interface SeedArgvOptions {
  /** Absolute path of the ISO. */
  isoPath: string;
  /** Block node name prefix. Default 'seed' (nodes 'seedf' and 'seed'). */
  nodeName?: string;
  /** Device id. Default: the node name. */
  deviceId?: string;
  /** PCI bus (e.g. a pcie-root-port id on q35). */
  bus?: string;
}

export function seedArgv(opts: SeedArgvOptions): string[] {
  if (!opts.isoPath.startsWith('/')) throw new Error(`seed ISO path must be absolute: ${opts.isoPath}`);
  const node = opts.nodeName ?? 'seed';
  return [
    '-blockdev', JSON.stringify({ driver: 'file', filename: opts.isoPath, 'node-name': `${node}f`, 'read-only': true }),
    '-blockdev', JSON.stringify({ driver: 'raw', file: `${node}f`, 'node-name': node, 'read-only': true }),
    '-device', JSON.stringify({ driver: 'virtio-blk-pci', id: opts.deviceId ?? node, drive: node, ...(opts.bus ? { bus: opts.bus } : {}) }),
  ];
}
