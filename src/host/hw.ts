/**
 * What the host must have for a VM's hardware (issue 15): host USB devices (sysfs), the
 * vhost-vsock device, virtiofsd, and shared folders inside the roots the admin allows.
 * Checked at create and again at each start; refusals change nothing.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { usbHostText } from '../model/hw.js';
import type { ShareSpec, UsbHostSpec } from '../model/spec.js';

export const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';

export interface HwHostOptions {
  /** sysfs root (tests). */
  sysRoot?: string;
  /** /dev root (tests). */
  devRoot?: string;
  virtiofsd?: string;
}

function unavailable(message: string, details: Record<string, unknown>): HangarError {
  return new HangarError('HOST_DEVICE_UNAVAILABLE', message, { details });
}

async function readTrim(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Refuses a host USB device that is not plugged in (by vendor:product, or by bus-port). */
export async function checkUsbDevices(devices: readonly UsbHostSpec[], opts: HwHostOptions = {}): Promise<void> {
  if (devices.length === 0) return;
  const root = join(opts.sysRoot ?? '/sys', 'bus', 'usb', 'devices');
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    entries = [];
  }
  const present: Array<{ name: string; vendor?: string; product?: string }> = [];
  for (const name of entries) {
    if (name.includes(':')) continue; // interfaces (1-2:1.0), not devices
    present.push({ name, vendor: await readTrim(join(root, name, 'idVendor')), product: await readTrim(join(root, name, 'idProduct')) });
  }
  for (const u of devices) {
    const found = 'vendorId' in u
      ? present.some((p) => p.vendor === u.vendorId && p.product === u.productId)
      : present.some((p) => p.name === `${u.bus}-${u.port}`);
    if (!found) {
      const where = entries.length === 0 ? 'this host has no USB devices at all (no /sys/bus/usb/devices)' : 'see lsusb (vendor:product) or /sys/bus/usb/devices (bus-port)';
      throw unavailable(`Host USB device ${usbHostText(u)} is not plugged in: ${where}.`, { usb: usbHostText(u) });
    }
  }
}

/** Refuses vsock when the host kernel has no vhost-vsock (modprobe vhost_vsock). */
export async function checkVsock(opts: HwHostOptions = {}): Promise<void> {
  const dev = join(opts.devRoot ?? '/dev', 'vhost-vsock');
  try {
    await access(dev, constants.R_OK | constants.W_OK);
  } catch {
    throw unavailable(`vsock needs ${dev}, which this host does not have: load the vhost_vsock module (modprobe vhost_vsock) on a host that supports it.`, { device: dev });
  }
}

/** Refuses shares when virtiofsd is not installed. */
export async function checkVirtiofsd(opts: HwHostOptions = {}): Promise<void> {
  const bin = opts.virtiofsd ?? VIRTIOFSD;
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw unavailable(`Shared folders need ${bin} (Debian package qemu-system-common), which is not installed.`, { virtiofsd: bin });
  }
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * A share's host directory, resolved (symlinks followed) and checked: an existing directory
 * inside one of `roots` (also resolved), with no character virtiofsd's option list would
 * misread. Returns the share with its real path.
 */
export async function resolveShare(share: ShareSpec, roots: readonly string[]): Promise<ShareSpec> {
  if (roots.length === 0) {
    throw new HangarError('SHARE_PATH_NOT_ALLOWED', `Shared folders are off on this host: the admin allows none (start the daemon with --share-root DIR).`, { details: { field: 'shares', tag: share.tag } });
  }
  let real: string;
  try {
    real = await realpath(share.source);
  } catch {
    throw new HangarError('INVALID_SPEC', `Share ${share.tag}: ${share.source} does not exist on the host.`, { details: { field: 'shares', tag: share.tag } });
  }
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => r)));
  if (!realRoots.some((r) => inside(real, r))) {
    throw new HangarError('SHARE_PATH_NOT_ALLOWED', `Share ${share.tag}: ${share.source}${real !== share.source ? ` (really ${real})` : ''} is outside the allowed roots (${realRoots.join(', ')}).`, { details: { field: 'shares', tag: share.tag, path: real } });
  }
  if (!(await stat(real)).isDirectory()) {
    throw new HangarError('INVALID_SPEC', `Share ${share.tag}: ${real} is not a directory.`, { details: { field: 'shares', tag: share.tag } });
  }
  // virtiofsd takes the path inside `-o source=…`, a comma-separated list.
  if (/[,\\]/.test(real)) {
    throw new HangarError('INVALID_SPEC', `Share ${share.tag}: the host path ${real} contains ',' or '\\', which virtiofsd's options cannot carry; rename the directory.`, { details: { field: 'shares', tag: share.tag } });
  }
  return { ...share, source: real };
}
