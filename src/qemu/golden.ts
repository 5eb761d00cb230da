/**
 * The argv builder's golden cases, kept per QEMU version as libvirt keeps its
 * `*.x86_64-7.2.0.args`: `argv-golden/<version>/<case>.json` (the builder's input) and
 * `<case>.argv` (its output, one argument a line). A QEMU upgrade that changes a command
 * line adds a version folder beside the old one; see argv-golden/README.md.
 *
 * Read by the unit test (argv.test.ts) and by the integration test that starts every case
 * in the host's real QEMU (test/integration/argv-qemu.test.ts); not used by the daemon.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostCaps, VmPaths, VmSpec } from '../model/spec.js';
import { compareVersions, versionParts } from '../util/version.js';
import type { BuildQemuArgvOptions } from './argv.js';

export const GOLDEN_ROOT = fileURLToPath(new URL('./argv-golden/', import.meta.url));

export interface GoldenCase {
  spec: VmSpec;
  /** `caps.qemuVersion` names the folder the case lives in. */
  caps: HostCaps;
  paths: VmPaths;
  opts?: BuildQemuArgvOptions;
}

/** The version folders, oldest first. */
export function goldenVersions(): string[] {
  return readdirSync(GOLDEN_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d+\.\d+\.\d+$/.test(d.name))
    .map((d) => d.name)
    .sort(compareVersions);
}

/** The newest version that has cases: what the unit tests of the builder read by default. */
export function latestGoldenVersion(): string {
  const versions = goldenVersions();
  const latest = versions[versions.length - 1];
  if (latest === undefined) throw new Error(`no version folder in ${GOLDEN_ROOT}`);
  return latest;
}

/** The case names of one version, sorted. */
export function goldenCaseNames(version: string): string[] {
  return readdirSync(join(GOLDEN_ROOT, version))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function goldenCasePath(version: string, name: string, ext: 'json' | 'argv'): string {
  return join(GOLDEN_ROOT, version, `${name}.${ext}`);
}

export function loadGoldenCase(version: string, name: string): GoldenCase {
  return JSON.parse(readFileSync(goldenCasePath(version, name, 'json'), 'utf8')) as GoldenCase;
}

/**
 * The golden versions a host running QEMU `hostVersion` can check: those of its release
 * series (same major.minor), else the newest older one, since QEMU keeps old options working.
 */
export function goldenVersionsFor(hostVersion: string, versions = goldenVersions()): string[] {
  const [major, minor] = versionParts(hostVersion);
  const sameSeries = versions.filter((v) => {
    const [a, b] = versionParts(v);
    return a === major && b === minor;
  });
  if (sameSeries.length > 0) return sameSeries;
  const older = versions.filter((v) => compareVersions(v, hostVersion) <= 0);
  return older.length > 0 ? [older[older.length - 1]!] : [];
}
