/** A VM with profiles (src/profiles): what a plain `vm set` names becomes the VM's own value. */
import type { ProfileSettings } from '../model/profile-settings.js';
import { parseMemoryMiB } from '../model/validate.js';
import { parseCpuLimit, type VmSettings } from './settings-plan.js';

/** A VM's own values after `vm set` (keys it names become its own, winning over its profiles). */
export function recordOwn(own: ProfileSettings, settings: VmSettings & { labels?: string[] }): ProfileSettings {
  const next: ProfileSettings = { ...own };
  if (settings.cpus !== undefined) next.cpus = settings.cpus;
  if (settings.memory !== undefined) next.memory = parseMemoryMiB(settings.memory);
  if (settings.maxCpus !== undefined) next.maxCpus = settings.maxCpus;
  if (settings.maxMemory !== undefined) next.maxMemory = parseMemoryMiB(settings.maxMemory);
  if (settings.cpuLimit !== undefined) {
    const pct = parseCpuLimit(settings.cpuLimit);
    if (pct === undefined) delete next.cpuLimit;
    else next.cpuLimit = pct;
  }
  if (settings.cpuWeight !== undefined) {
    if (settings.cpuWeight === null) delete next.cpuWeight;
    else next.cpuWeight = settings.cpuWeight;
  }
  if (settings.ha !== undefined) next.ha = settings.ha;
  if (settings.haPriority !== undefined) next.haPriority = settings.haPriority;
  if (settings.autostart !== undefined) next.autostart = settings.autostart;
  if (settings.restart !== undefined) next.restart = settings.restart;
  for (const edit of settings.labels ?? []) {
    const eq = edit.indexOf('=');
    const labels = { ...next.labels };
    if (eq > 0) labels[edit.slice(0, eq)] = edit.slice(eq + 1);
    else delete labels[edit.replace(/-$/, '')];
    next.labels = labels;
  }
  return next;
}
