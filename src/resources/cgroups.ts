/**
 * CPU limits and weights for QEMU processes through cgroups: v2 where the host runs the
 * unified hierarchy, v1 (the `cpu` controller) where that is what is mounted — detected
 * once. Each VM gets its own group under `hangar/`; the whole QEMU process (all threads)
 * is moved there at start, so vCPU, I/O and emulator threads share the limit.
 *
 * Every guest is placed, with a limit or without (the supervisor's applyStartResources; without
 * a limit the move runs beside the start), so on cgroup v2 a guest's QEMU is outside the
 * daemon's group, and stopping hangar.service cannot take it down. On v1 only the `cpu`
 * hierarchy moves: systemd still counts the QEMU processes in hangar.service (its
 * `name=systemd` or unified tree), so the unit needs `KillMode=process` there (also the
 * safety net on v2 for the moment before the move, a failed move, and helpers such as swtpm
 * and virtiofsd, which are not moved).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupDriver {
  readonly version: 1 | 2;
  readonly root: string;
  /** Moves every thread of `pid` into the VM's group (created if needed). */
  place(vmId: string, pid: number): Promise<void>;
  /** Percent of one host CPU (150 = 1.5 CPUs); undefined lifts the limit. */
  setCpuLimit(vmId: string, percent: number | undefined): Promise<void>;
  /** 1-10000, 100 being the default share; undefined restores the default. */
  setCpuWeight(vmId: string, weight: number | undefined): Promise<void>;
  /** Removes the VM's (empty) group. */
  remove(vmId: string): Promise<void>;
}

const PERIOD_US = 100_000;

/** Finds the cgroup hierarchy that has the cpu controller; undefined if none is usable. */
export function detectCgroups(fsRoot = '/sys/fs/cgroup'): CgroupDriver | undefined {
  if (existsSync(join(fsRoot, 'cgroup.controllers'))) return new CgroupV2(fsRoot);
  if (existsSync(join(fsRoot, 'cpu', 'cpu.cfs_quota_us'))) return new CgroupV1(join(fsRoot, 'cpu'));
  return undefined;
}

abstract class BaseDriver {
  constructor(readonly root: string) {}

  protected dir(vmId: string): string {
    if (!/^[a-z0-9-]+$/i.test(vmId)) throw new Error(`bad VM id ${vmId}`);
    return join(this.root, 'hangar', `vm-${vmId}`);
  }

  async remove(vmId: string): Promise<void> {
    try {
      await rmdir(this.dir(vmId));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EBUSY') throw e;
    }
  }
}

export class CgroupV1 extends BaseDriver implements CgroupDriver {
  readonly version = 1;

  async place(vmId: string, pid: number): Promise<void> {
    const dir = this.dir(vmId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cgroup.procs'), `${pid}\n`);
  }

  async setCpuLimit(vmId: string, percent: number | undefined): Promise<void> {
    const dir = this.dir(vmId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cpu.cfs_period_us'), `${PERIOD_US}\n`);
    await writeFile(join(dir, 'cpu.cfs_quota_us'), percent === undefined ? '-1\n' : `${Math.round((percent / 100) * PERIOD_US)}\n`);
  }

  async setCpuWeight(vmId: string, weight: number | undefined): Promise<void> {
    const dir = this.dir(vmId);
    await mkdir(dir, { recursive: true });
    // v1 shares: 1024 is the default, as weight 100 is in v2.
    await writeFile(join(dir, 'cpu.shares'), `${Math.max(2, Math.round(((weight ?? 100) * 1024) / 100))}\n`);
  }
}

export class CgroupV2 extends BaseDriver implements CgroupDriver {
  readonly version = 2;

  async place(vmId: string, pid: number): Promise<void> {
    await this.ensure(vmId);
    await writeFile(join(this.dir(vmId), 'cgroup.procs'), `${pid}\n`);
  }

  async setCpuLimit(vmId: string, percent: number | undefined): Promise<void> {
    await this.ensure(vmId);
    const quota = percent === undefined ? 'max' : String(Math.round((percent / 100) * PERIOD_US));
    await writeFile(join(this.dir(vmId), 'cpu.max'), `${quota} ${PERIOD_US}\n`);
  }

  async setCpuWeight(vmId: string, weight: number | undefined): Promise<void> {
    await this.ensure(vmId);
    await writeFile(join(this.dir(vmId), 'cpu.weight'), `${weight ?? 100}\n`);
  }

  /** The cpu controller must be enabled on the way down to the VM's group. */
  private async ensure(vmId: string): Promise<void> {
    const parent = join(this.root, 'hangar');
    await mkdir(this.dir(vmId), { recursive: true });
    for (const dir of [this.root, parent]) {
      const control = join(dir, 'cgroup.subtree_control');
      const enabled = (await readFile(control, 'utf8').catch(() => '')).split(/\s+/);
      if (!enabled.includes('cpu')) await writeFile(control, '+cpu\n').catch(() => undefined);
    }
  }
}
