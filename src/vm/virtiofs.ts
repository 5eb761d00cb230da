/**
 * virtiofs shared folders at run time: one virtiofsd per share, started before QEMU and gone
 * after it. Debian 12's virtiofsd refuses to run as a non-root user, so it runs as root in its
 * chroot sandbox (as libvirt runs it) and its socket is handed to the guest's uid, which QEMU
 * runs as. A read-only share is served from a read-only bind mount of the directory (this
 * virtiofsd has no read-only option). virtiofsd ends by itself when QEMU closes the
 * connection; `afterExit` ends any that did not (QEMU failed before connecting) and
 * unmounts the read-only views. The host checks (USB present, vhost-vsock, share roots) run
 * here too, before each start.
 */
import { chown, mkdir, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { VIRTIOFSD, type HwHostOptions } from '../host/hw.js';
import type { VmPaths, VmSpec } from '../model/spec.js';
import type { VmRecord } from '../model/vm-record.js';
import { launchQemu } from '../qemu/process.js';
import { findProcesses, stopProcess } from '../util/proc.js';
import { run } from '../util/run.js';
import { checkHardwareHost } from './hw-create.js';

const SOCKET_WAIT_MS = 10_000;

/** `paths` with a virtiofsd socket for each of the spec's shares (beside the QMP socket). */
export function withShareSockets(paths: VmPaths, spec: Pick<VmSpec, 'shares'>): VmPaths {
  if (!spec.shares?.length) return paths;
  return { ...paths, shareSockets: spec.shares.map((_, i) => join(dirname(paths.qmpSocket), `fs${i}.sock`)) };
}

export interface VirtiofsOptions {
  shareRoots: readonly string[];
  /** Where read-only views of shares are mounted (outside every VM's run directory, which a delete removes). */
  roMountDir: string;
  host?: HwHostOptions;
  log: (msg: string) => void;
}

export class VmHardwareRuntime {
  constructor(private readonly opts: VirtiofsOptions) {}

  /** Host checks, then a virtiofsd on each share's socket (owned by the guest's user). */
  async beforeLaunch(rec: VmRecord, paths: VmPaths, identity: { uid: number; gid: number } | undefined): Promise<void> {
    await checkHardwareHost(rec.spec, this.opts.shareRoots, this.opts.host);
    const shares = rec.spec.shares ?? [];
    if (shares.length === 0) return;
    try {
      for (const [i, share] of shares.entries()) {
        const socket = paths.shareSockets?.[i];
        if (!socket) throw new HangarError('INTERNAL', `share ${share.tag} has no socket path`);
        await rm(socket, { force: true });
        const source = share.readOnly ? await this.readOnlyView(rec.id, i, share.source) : share.source;
        const argv = [`--socket-path=${socket}`, '-o', `source=${source}`, '-o', 'sandbox=chroot', '-o', 'cache=auto'];
        const fsd = launchQemu(this.opts.host?.virtiofsd ?? VIRTIOFSD, argv, paths.qemuLog.replace(/qemu\.log$/, `virtiofsd-${i}.log`));
        const deadline = Date.now() + SOCKET_WAIT_MS;
        let exited = false;
        void fsd.exited.then(() => (exited = true));
        while (!existsSync(socket)) {
          if (exited || Date.now() > deadline) {
            throw new HangarError('HOST_DEVICE_UNAVAILABLE', `virtiofsd for share ${share.tag} (${share.source}) did not start${exited ? '' : ' within 10 s'}: see ${paths.qemuLog.replace(/qemu\.log$/, `virtiofsd-${i}.log`)}.`);
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        if (identity) await chown(socket, identity.uid, identity.gid);
      }
    } catch (e) {
      await this.afterExit(rec.id, paths);
      throw e;
    }
  }

  /** Ends the VM's virtiofsd processes still running and removes read-only views. */
  async afterExit(vmId: string, paths: VmPaths): Promise<void> {
    const sockets = new Set((paths.shareSockets ?? []).map((s) => `--socket-path=${s}`));
    const dir = dirname(paths.qmpSocket);
    const mine = findProcesses((argv) => argv[0] === (this.opts.host?.virtiofsd ?? VIRTIOFSD) && argv.some((a) => sockets.has(a) || (a.startsWith(`--socket-path=${dir}/fs`) && a.endsWith('.sock'))));
    await Promise.all(mine.map((p) => stopProcess(p.pid, p.startTime, 2000)));
    for (const s of paths.shareSockets ?? []) await rm(s, { force: true }).catch(() => undefined);
    await this.unmountViews(vmId);
  }

  private viewDir(vmId: string, i: number): string {
    return join(this.opts.roMountDir, `${vmId}-fs${i}`);
  }

  private async readOnlyView(vmId: string, i: number, source: string): Promise<string> {
    const view = this.viewDir(vmId, i);
    await this.unmount(view);
    await mkdir(view, { recursive: true, mode: 0o700 });
    for (const args of [['--bind', source, view], ['-o', 'remount,bind,ro', view]]) {
      const r = await run('mount', args, { timeoutMs: 10_000 });
      if (r.code !== 0) {
        await this.unmount(view);
        throw new HangarError('HOST_DEVICE_UNAVAILABLE', `Could not make a read-only view of ${source} for virtiofsd (mount ${args.join(' ')}): ${String(r.stderr).trim()}`);
      }
    }
    return view;
  }

  private async unmountViews(vmId: string): Promise<void> {
    const names = await readdir(this.opts.roMountDir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith(`${vmId}-fs`))) await this.unmount(join(this.opts.roMountDir, name));
  }

  /** Unmounts (if mounted) and removes an empty view directory; never deletes inside it. */
  private async unmount(view: string): Promise<void> {
    if (!existsSync(view)) return;
    // A virtiofsd that is still exiting keeps the view busy for a moment.
    for (let tries = 0; tries < 50 && (await isMountPoint(view)); tries++) {
      const r = await run('umount', [view], { timeoutMs: 10_000 });
      if (r.code !== 0) await new Promise((res) => setTimeout(res, 100));
    }
    // rmdir, not rm -r: if it is still a mount point it fails and the shared files stay untouched.
    await rmdir(view).catch((e: unknown) => this.opts.log(`removing the read-only view ${view} failed: ${String(e)}`));
  }
}

/** Whether `path` is a mount point now (/proc/self/mounts escapes spaces and the like as octal). */
async function isMountPoint(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return mounts.split('\n').some((line) => line.split(' ')[1]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === path);
}
