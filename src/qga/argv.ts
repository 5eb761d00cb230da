/**
 * The QEMU arguments for a guest agent channel, in the JSON device form (no user value can
 * inject an option through a comma). The chardev has no JSON form on the command line in
 * QEMU 7.2, so its socket path is checked instead.
 */
export const QGA_PORT_NAME = 'org.qemu.guest_agent.0';

export interface QgaArgvOptions {
  /** Unix socket QEMU listens on (the host end of the channel). */
  socketPath: string;
  /** chardev id. Default 'qga0'. */
  chardevId?: string;
  /** virtio-serial controller id. Default 'vser0'. Pass an existing controller's id with `controller: false`. */
  serialId?: string;
  /** Add the virtio-serial-pci controller. Default true. */
  controller?: boolean;
  /** PCI bus for the controller (e.g. a pcie-root-port id on q35). */
  bus?: string;
}

export function qgaArgv(opts: QgaArgvOptions): string[] {
  const { socketPath } = opts;
  if (!socketPath.startsWith('/') || /[,\0\n]/.test(socketPath) || Buffer.byteLength(socketPath) > 107) {
    throw new Error(`guest agent socket path must be absolute, at most 107 bytes, without commas: ${socketPath}`);
  }
  const chardevId = opts.chardevId ?? 'qga0';
  const serialId = opts.serialId ?? 'vser0';
  const out: string[] = ['-chardev', `socket,id=${chardevId},path=${socketPath},server=on,wait=off`];
  if (opts.controller !== false) {
    out.push('-device', JSON.stringify({ driver: 'virtio-serial-pci', id: serialId, ...(opts.bus ? { bus: opts.bus } : {}) }));
  }
  out.push('-device', JSON.stringify({ driver: 'virtserialport', bus: `${serialId}.0`, chardev: chardevId, name: QGA_PORT_NAME }));
  return out;
}
