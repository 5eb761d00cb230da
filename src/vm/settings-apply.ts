/**
 * `vm set`, carried out: previews placement against the host, plans (settings-plan.ts), runs
 * the plan's checks, then its live actions on the running guest (QMP, cgroups, taskset). The
 * caller stores the new spec and what the guest has now.
 */
import { checkHugepages, onlineCpus } from '../host/placement.js';
import { DEFAULT_PROJECT, type ProjectService } from '../projects/service.js';
import type { QmpClient } from '../qmp/index.js';
import type { CgroupDriver } from '../resources/cgroups.js';
import { setDiskThrottle, setGuestCpus, setGuestMemory, type LiveResources } from '../resources/live.js';
import { applyPinning, queryThreads, type QemuThreads } from '../resources/pinning.js';
import type { VmSpec } from '../model/spec.js';
import type { VmRecord } from '../store/store.js';
import type { HostInfo } from './capacity.js';
import { previewSettings, type PlacementOptions } from './placement-ops.js';
import { planSettings, type SettingResult, type SettingsCheck, type SettingsPlan, type VmSettings } from './settings-plan.js';

export interface SettingsApplyDeps {
  host: HostInfo;
  /** Absent where the host has no usable cpu cgroup controller. */
  cgroups?: CgroupDriver;
  placement?: PlacementOptions;
  projects?: Pick<ProjectService, 'check'>;
  /** The running guest's monitor (VM_STATE if it has none). */
  qmpOf: (rec: VmRecord) => QmpClient;
  /** HOST_CAPACITY unless a VM like `rec` fits beside the other running VMs. */
  checkCapacity: (rec: VmRecord) => Promise<void>;
}

export interface AppliedSettings {
  spec: VmSpec;
  changes: SettingResult[];
  /** While QEMU runs: what the guest has now. */
  live?: LiveResources;
  /** QEMU's thread ids, when they were read again. */
  threads?: QemuThreads;
}

/** Plans and applies `settings` to `rec`; nothing is applied when a setting or a check fails. */
export async function applySettings(rec: VmRecord, settings: VmSettings, deps: SettingsApplyDeps): Promise<AppliedSettings> {
  // Placement (and resource changes that would break a NUMA topology) is checked before anything applies.
  const preview = await previewSettings(rec.spec, settings, deps.placement);
  const running = rec.state === 'running' || rec.state === 'paused';
  const live = rec.runtime?.live && running ? rec.runtime.live : undefined;
  const qmp = live ? deps.qmpOf(rec) : undefined;
  const placement = rec.runtime?.placement;
  const plan = planSettings(rec.spec, settings, live, {
    name: rec.name, host: deps.host, preview, cgroupVersion: deps.cgroups?.version,
    ...(live && {
      run: {
        accel: rec.runtime?.accel ?? 'tcg',
        // What the run started with (older records have no placement snapshot: the spec's).
        hugepages: placement ? (placement.hugepages ?? undefined) : rec.spec.hugepages,
        iothreads: placement?.iothreads ?? 0,
      },
    }),
  });
  await runChecks(rec, plan.checks, deps);
  if (!live || !qmp || plan.liveActions.length === 0) return { spec: plan.spec, changes: plan.changes, ...(live && { live: { ...live } }) };
  return { spec: plan.spec, ...(await applyLiveActions(plan, { qmp, live, pid: rec.runtime!.pid, vmId: rec.id, ...deps })) };
}

async function runChecks(rec: VmRecord, checks: SettingsCheck[], deps: SettingsApplyDeps): Promise<void> {
  for (const check of checks) {
    if (check.kind === 'quota') {
      await deps.projects?.check(rec.spec.project ?? DEFAULT_PROJECT, { vms: 0, cpus: check.cpus, memoryMiB: check.memoryMiB, diskBytes: 0 });
    } else if (check.kind === 'capacity') {
      await deps.checkCapacity({ ...rec, spec: { ...rec.spec, cpus: rec.spec.cpus + check.cpus, memoryMiB: rec.spec.memoryMiB + check.memoryMiB } });
    } else {
      await checkHugepages(rec.name, check.memoryMiB, check.sizeKiB, deps.placement?.roots);
    }
  }
}

export interface LiveTarget {
  qmp: QmpClient;
  /** QEMU's pid and the VM's id (its cgroup). */
  pid: number;
  vmId: string;
  live: LiveResources;
  cgroups?: CgroupDriver;
  placement?: PlacementOptions;
}

/**
 * Runs the plan's live actions in order. Returns what the guest has afterwards, and the
 * changes, where a vCPU count the guest did not reach becomes `next-start`.
 */
export async function applyLiveActions(plan: Pick<SettingsPlan, 'liveActions' | 'changes'>, target: LiveTarget): Promise<{ live: LiveResources; threads?: QemuThreads; changes: SettingResult[] }> {
  const { qmp } = target;
  let live = { ...target.live };
  let threads: QemuThreads | undefined;
  let changes = plan.changes;
  for (const action of plan.liveActions) {
    switch (action.kind) {
      case 'memory':
        live = { ...live, ...(await setGuestMemory(qmp, live, action.memoryMiB, action.balloon, action.accel, action.dimm)) };
        break;
      case 'cpus': {
        const before = live.cpus;
        live.cpus = await setGuestCpus(qmp, action.cpus);
        if (live.cpus < before) live.cpuUnplugged = true;
        if (live.cpus !== action.cpus) {
          const note = `the guest has ${live.cpus}: boot vCPUs cannot be unplugged`;
          changes = changes.map((c) => (c.key === action.key ? { key: c.key, value: c.value, applied: 'next-start', note } : c));
        }
        break;
      }
      case 'threads':
        threads = await queryThreads(qmp, action.withIothreads);
        if (action.applyPins) {
          await applyPinning(target.pid, threads, action.pin, await onlineCpus(target.placement?.roots), {
            ...(target.placement?.setter && { setter: target.placement.setter }), ...(target.placement?.roots?.proc && { procRoot: target.placement.roots.proc }),
          });
        }
        break;
      case 'cpu-limit':
        await target.cgroups!.setCpuLimit(target.vmId, action.percent);
        break;
      case 'cpu-weight':
        await target.cgroups!.setCpuWeight(target.vmId, action.weight);
        break;
      case 'disk-throttle':
        await setDiskThrottle(qmp, action.device, { iops: action.iops, bps: action.bps }, action.bus);
        break;
    }
  }
  return { live, ...(threads && { threads }), changes };
}
