import { mkdtempSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { VmSpec } from '../model/spec.js';
import { buildQemuArgv } from './argv.js';
import { cpuArg, hwNotes } from './argv-hw.js';
import { latestGoldenVersion, loadGoldenCase } from './golden.js';

const LATEST = latestGoldenVersion();
const tiny = () => loadGoldenCase(LATEST, 'tiny-kernel-boot');

function values(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));
}
function devices(argv: string[]): Array<Record<string, unknown>> {
  return values(argv, '-device').map((v) => JSON.parse(v) as Record<string, unknown>);
}
function build(patch: Partial<VmSpec>, paths: Record<string, unknown> = {}, accel: 'kvm' | 'tcg' = 'tcg'): string[] {
  const c = tiny();
  Object.assign(c.spec, patch, { accel });
  return buildQemuArgv(c.spec, c.caps, { ...c.paths, ...paths }, c.opts);
}

describe('hardware argv', () => {
  it('keeps a VM without the new fields exactly as before (unversioned machine, no USB)', () => {
    const argv = build({});
    expect(values(argv, '-machine')).toEqual(['type=q35']);
    expect(devices(argv).some((d) => d.driver === 'qemu-xhci')).toBe(false);
  });

  it('uses the pinned machine version and a tablet only with a display', () => {
    expect(values(build({ machineVersion: 'pc-q35-7.2' }), '-machine')).toEqual(['type=pc-q35-7.2']);
    expect(devices(build({ tablet: true })).map((d) => d.driver)).toEqual(expect.arrayContaining(['qemu-xhci', 'usb-tablet']));
    expect(devices(build({ tablet: true, vnc: false })).some((d) => d.driver === 'usb-tablet')).toBe(false);
  });

  it('renders CPU flags as name=on/off and drops Hyper-V features TCG cannot do, saying so', () => {
    const spec = { ...tiny().spec, cpuFlags: ['+avx2', '-pcid'], hyperv: true };
    expect(cpuArg(spec, 'tcg')).toBe('max,avx2=on,pcid=off,hv-relaxed=on,hv-vapic=on,hv-spinlocks=0x1fff,hv-time=on,hv-reset=on,hv-frequencies=on,hv-runtime=on');
    expect(cpuArg(spec, 'kvm')).toContain('hv-vpindex=on,hv-synic=on');
    expect(hwNotes(spec, 'tcg')[0]).toContain('hv-vpindex');
    expect(hwNotes(spec, 'kvm')).toEqual([]);
  });

  it('refuses a topology that does not multiply out, and bad flags, before QEMU sees them', () => {
    expect(() => build({ cpus: 2, topology: { sockets: 1, cores: 1, threads: 1 } })).toThrow(/sockets × cores × threads/);
    expect(() => build({ cpuFlags: ['+avx2,kvm=off'] })).toThrow(/CPU flag/);
    expect(values(build({ cpus: 4, topology: { sockets: 2, cores: 2, threads: 1 } }), '-smp')).toEqual(['cpus=4,sockets=2,cores=2,threads=1']);
  });

  it('puts SATA disks on successive AHCI ports and virtio-scsi disks on one controller', () => {
    const disk = (id: string, bus: NonNullable<VmSpec['disks'][number]['bus']>) => ({ id, path: `/d/${id}.qcow2`, format: 'qcow2' as const, readOnly: false, bus });
    const argv = build({ disks: [disk('a', 'sata'), disk('b', 'virtio-scsi'), disk('c', 'sata'), disk('e', 'virtio-scsi')] });
    const devs = devices(argv);
    expect(devs.filter((d) => d.driver === 'virtio-scsi-pci')).toHaveLength(1);
    expect(devs.filter((d) => d.driver === 'ide-hd').map((d) => d.bus)).toEqual(['ide.0', 'ide.1']);
    expect(devs.filter((d) => d.driver === 'scsi-hd').map((d) => d.bus)).toEqual(['scsi0.0', 'scsi0.0']);
  });

  it('backs guest RAM with a shared memfd for virtiofs and connects each share to its socket', () => {
    const dir = mkdtempSync('/tmp/hw-');
    const argv = build({ shares: [{ tag: 'data', source: '/srv/data' }] }, { shareSockets: [`${dir}/fs0.sock`] });
    expect(values(argv, '-machine')).toEqual(['type=q35,memory-backend=ram0']);
    expect(values(argv, '-object').map((o) => JSON.parse(o) as Record<string, unknown>)).toContainEqual({ 'qom-type': 'memory-backend-memfd', id: 'ram0', size: 256 * 2 ** 20, share: true });
    expect(values(argv, '-chardev')).toContain(`socket,id=fs0-sock,path=${dir}/fs0.sock`);
    expect(devices(argv)).toContainEqual({ driver: 'vhost-user-fs-pci', id: 'fs0', chardev: 'fs0-sock', tag: 'data' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a user-mode NIC with queues and disk ids that clash with the hardware ids', () => {
    const nic = { ...tiny().spec.nics[0]!, queues: 2 };
    expect(() => build({ nics: [nic] })).toThrow(/slirp cannot multiqueue/);
    expect(() => build({ disks: [{ id: 'usb0', path: '/d/x.qcow2', format: 'qcow2', readOnly: false }] })).toThrow(/reserved/);
  });
});
