/**
 * Each guest's QEMU runs as a user of its own (sVirt's idea, with plain Unix ids): a uid
 * from a range no login account uses, and the `kvm` group (for /dev/kvm; spawning with a
 * uid drops supplementary groups, so kvm has to be the primary group). The daemon stays
 * root for what needs it (taps, bridges, cgroups) and hands each QEMU only its own files:
 * its disks, seed image, sockets directory and serial log (owner uid, mode 0600/0700).
 * One guest's QEMU can therefore not open another guest's disks or sockets.
 *
 * QEMU is started as that user (Node's spawn sets uid/gid before exec) rather than with
 * `-runas`: QEMU 7.2 drops privileges after installing its seccomp filter, which with
 * `elevateprivileges=deny` kills it.
 */
import { chmod, chown, lstat, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface GuestIdentity {
  uid: number;
  gid: number;
}

/** First uid handed to guests; 65,536 of them from here. Above typical login and subuid ranges' starts. */
export const DEFAULT_GUEST_UID_BASE = 2_100_000_000;
export const GUEST_UID_COUNT = 65_536;

/** The lowest uid in [base, base + count) that no VM holds yet. */
export function allocateGuestUid(taken: Iterable<number>, base = DEFAULT_GUEST_UID_BASE, count = GUEST_UID_COUNT): number {
  const used = new Set(taken);
  for (let uid = base; uid < base + count; uid++) if (!used.has(uid)) return uid;
  throw new Error(`all ${count} guest uids from ${base} are in use`);
}

/** The gid of a group in /etc/group format text, or undefined. */
export function groupIdFrom(groupFile: string, name: string): number | undefined {
  for (const line of groupFile.split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/** The `kvm` group's gid on this host (undefined if it has none). */
export async function kvmGroupId(groupFile = '/etc/group'): Promise<number | undefined> {
  return groupIdFrom(await readFile(groupFile, 'utf8').catch(() => ''), 'kvm');
}

/** Whether guests can get identities of their own: only a root daemon can start processes as other users. */
export function canDropPrivileges(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Gives a guest's file to its QEMU: owner uid, group gid, mode (0600 files, 0700 dirs).
 * Refuses symlinks (a link could hand some other file to the guest).
 */
export async function handOver(path: string, id: GuestIdentity, mode: number): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) throw new Error(`${path} is a symbolic link: not handed to a guest`);
  if (st.uid !== id.uid || st.gid !== id.gid) await chown(path, id.uid, id.gid);
  if ((st.mode & 0o7777) !== mode) await chmod(path, mode);
}

/** Takes a file back from a guest (a detached volume): root-owned, 0600. */
export async function takeBack(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return;
  if (st.uid !== 0 || st.gid !== 0) await chown(path, 0, 0);
  if ((st.mode & 0o7777) !== 0o600) await chmod(path, 0o600);
}

/**
 * Lets any guest pass through `dir` (execute, not list: mode gains o+x) without reading
 * it. For the daemon's own directories on the way to guests' files.
 */
export async function allowTraverse(dir: string): Promise<void> {
  const st = await stat(dir);
  if ((st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o011);
}

/** Directories already made passable by this process: each start walks the same few paths. */
const passable = new Set<string>();

/**
 * Every directory above `path` (up to, not including, `stopAt`) becomes passable by guests.
 * Remembered per process: a directory someone makes private again later is not fixed until
 * the daemon restarts.
 */
export async function allowPathTo(path: string, stopAt = '/'): Promise<void> {
  for (let dir = dirname(path); dir !== stopAt && dir !== dirname(dir); dir = dirname(dir)) {
    if (passable.has(dir)) continue;
    await allowTraverse(dir);
    passable.add(dir);
  }
}

/**
 * Makes a shared read-only file (a kernel, an initrd, the base image of linked clones)
 * readable by every guest, and every directory above it passable.
 */
export async function shareReadOnly(file: string, stopAt = '/'): Promise<void> {
  const st = await stat(file);
  if ((st.mode & 0o004) === 0) await chmod(file, (st.mode & 0o7777) | 0o044);
  await allowPathTo(file, stopAt);
}

/** Whether a process with this gid (and no supplementary groups) may open a device read-write. */
export function groupCanUse(dev: { uid: number; gid: number; mode: number }, id: GuestIdentity): boolean {
  if (dev.uid === id.uid && (dev.mode & 0o600) === 0o600) return true;
  if (dev.gid === id.gid && (dev.mode & 0o060) === 0o060) return true;
  return (dev.mode & 0o006) === 0o006;
}
