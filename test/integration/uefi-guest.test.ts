/**
 * The `debian-12-uefi` guest (Debian's signed shim, GRUB and generic kernel) under TCG, one
 * guest for the checks that need a real UEFI operating system: Secure Boot enabled as the
 * guest sees it, an EFI variable and a TPM NV index the guest writes surviving a restart and
 * a save/restore, PCRs the firmware extended, and the Windows-profile hardware (a SATA disk,
 * an e1000e NIC with a DHCP lease) working in a Linux guest that has those drivers, and the
 * VNC pointer made absolute by the USB tablet (the generic kernel has USB HID).
 *
 * Then the same guest, running, is cloned (linked), and an image made of the clone is the
 * template of a third VM: each boots with its own hostname (cloud-init takes the new instance
 * id), MAC, SMBIOS UUID and machine-id, and so its own DHCP client id (systemd-networkd
 * derives it from the machine-id). Two more Debian boots, no more.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';
import { vncPointerIsAbsolute } from './vnc-pointer.js';

const VM = 'uefi1';
const GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** A vendor GUID of the test's own. */
const TEST_GUID = 'c1e2a3b4-0015-4d15-8a15-000000000015';
const NV_INDEX = '0x1500015';
let d: TestDaemon;

async function sh(script: string, vm = VM): Promise<string> {
  const r = await d.cli(['vm', 'exec', vm, '--', 'sh', '-c', script]);
  expect(r.code, `${script}\n${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

/** Until the guest agent answers exec (after a boot or a restore). */
async function agentUp(timeoutMs = 400_000, vm = VM): Promise<void> {
  await waitFor(`the guest agent of ${vm}`, async () => (await d.cli(['vm', 'exec', vm, '--', 'true'])).code === 0, timeoutMs, 3000);
}

beforeAll(async () => {
  d = await TestDaemon.start();
  const r = await d.cli(['vm', 'create', VM, '--image', 'debian-12-uefi', '--cpus', '2', '--memory', '1G', '--firmware', 'uefi', '--secure-boot', '--tpm',
    '--disk-bus', 'sata', '--nic-model', 'e1000e', '--hostname', VM, '--start']);
  expect(r.code, r.stderr).toBe(0);
  await agentUp();
}, 450_000);
afterAll(async () => {
  await d?.cleanup();
});

describe('debian-12-uefi with Secure Boot, a TPM, SATA and e1000e', () => {
  it('boots through shim and GRUB with Secure Boot enabled, as the guest sees it', async () => {
    expect(await sh('test -d /sys/firmware/efi && echo efi')).toBe('efi');
    // efivarfs: 4 bytes of attributes, then the value (1 = enabled).
    const bytes = (await sh(`od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-${GLOBAL_VARIABLE}`)).split(/\s+/).map(Number);
    expect(bytes.at(-1)).toBe(1);
    expect(await sh('dmesg | grep -c "Secure boot enabled" || true')).not.toBe('0');
  }, 60_000);

  it('the SATA disk and the e1000e NIC work: root on /dev/sda, a DHCP lease', async () => {
    expect(await sh('findmnt -no SOURCE /')).toMatch(/^\/dev\/sda\d$/);
    const iface = await sh("ip -o -4 addr show scope global | awk '{print $2}' | head -1");
    expect(await sh(`basename "$(readlink /sys/class/net/${iface}/device/driver)"`)).toBe('e1000e');
    expect(await sh(`ip -o -4 addr show dev ${iface}`)).toContain('10.0.2.15');
  }, 60_000);

  it('the VNC pointer is absolute: the USB tablet drives it', async () => {
    const v = await d.vm(VM);
    expect(v.hardware?.tablet).toBe(true);
    await waitFor('the tablet to become the current pointer', () => vncPointerIsAbsolute(join(d.dir, 'run', 'vms', v.id, 'vnc.sock')), 60_000, 1000);
  }, 90_000);

  it('sees a TPM 2.0 whose PCRs the firmware extended, and keeps an NV index', async () => {
    expect(await sh('cat /sys/class/tpm/tpm0/tpm_version_major')).toBe('2');
    const pcr0 = await sh('tpm2_pcrread sha256:0');
    expect(pcr0).toMatch(/0 ?: 0x[0-9A-F]{64}/i);
    expect(pcr0).not.toMatch(/0x0{64}/i);
    await sh(`tpm2_nvdefine ${NV_INDEX} -C o -s 8 -a "ownerread|ownerwrite" && printf hangar15 | tpm2_nvwrite ${NV_INDEX} -C o -i -`);
    expect(await sh(`tpm2_nvread ${NV_INDEX} -C o -s 8`)).toBe('hangar15');
    // An EFI variable of the guest's own (non-volatile, boot service and runtime access).
    await sh(`printf '\\007\\000\\000\\000hangar15' > /sys/firmware/efi/efivars/HangarTest-${TEST_GUID}`);
    expect(await sh(`tail -c 8 /sys/firmware/efi/efivars/HangarTest-${TEST_GUID}`)).toBe('hangar15');
  }, 60_000);

  it('the EFI variable and the NV index survive a restart', async () => {
    const r = await d.cli(['vm', 'restart', VM]);
    expect(r.code, r.stderr).toBe(0);
    await agentUp();
    expect(await sh(`tail -c 8 /sys/firmware/efi/efivars/HangarTest-${TEST_GUID}`)).toBe('hangar15');
    expect(await sh(`tpm2_nvread ${NV_INDEX} -C o -s 8`)).toBe('hangar15');
  }, 450_000);

  it('and a save and restore', async () => {
    expect((await d.cli(['vm', 'save', VM])).code).toBe(0);
    expect((await d.vm(VM)).state).toBe('saved');
    const r = await d.cli(['vm', 'start', VM]);
    expect(r.code, r.stderr).toBe(0);
    await agentUp(120_000);
    expect(await sh(`tail -c 8 /sys/firmware/efi/efivars/HangarTest-${TEST_GUID}`)).toBe('hangar15');
    expect(await sh(`tpm2_nvread ${NV_INDEX} -C o -s 8`)).toBe('hangar15');
  }, 300_000);
});

/** Who the guest says it is. */
interface GuestIdentity {
  hostname: string;
  mac: string;
  uuid: string;
  machineId: string;
  /** systemd-networkd's DHCPv4 client identifier (from the machine-id), in its current lease. */
  clientId: string;
}

async function guestIdentity(vm: string): Promise<GuestIdentity> {
  const out = await sh([
    'echo "hostname=$(hostname)"',
    // The one NIC: the interface that has a device behind it.
    'for n in /sys/class/net/*; do [ -e "$n/device" ] && echo "mac=$(cat "$n/address")"; done',
    'echo "uuid=$(cat /sys/class/dmi/id/product_uuid)"',
    'echo "machineId=$(cat /etc/machine-id)"',
    'echo "clientId=$(sed -n "s/^CLIENTID=//p" /run/systemd/netif/leases/* 2>/dev/null | head -1)"',
  ].join('; '), vm);
  return Object.fromEntries(out.split('\n').map((l) => l.split('=', 2) as [string, string])) as unknown as GuestIdentity;
}

/**
 * Waits for cloud-init to have given `vm` its identity (hostname, then machine-id and a new
 * DHCP lease), then checks the guest sees what the API says, and nothing of `others`.
 */
async function expectOwnIdentity(vm: string, others: GuestIdentity[]): Promise<GuestIdentity> {
  const v: Vm = await d.vm(vm);
  const machineId = v.uuid!.replace(/-/g, '');
  const seen = await waitFor(`${vm} to take its own identity`, async () => {
    const g = await guestIdentity(vm);
    return g.hostname === vm && g.machineId === machineId && g.clientId !== '' && !others.some((o) => o.clientId === g.clientId) ? g : undefined;
  }, 240_000, 3000).catch(async (e: Error) => {
    throw new Error(`${e.message}; the guest says ${JSON.stringify(await guestIdentity(vm))}`);
  });
  expect(seen).toMatchObject({ hostname: vm, mac: v.nics[0]!.mac, uuid: v.uuid, machineId });
  for (const o of others) {
    expect(seen.mac).not.toBe(o.mac);
    expect(seen.uuid).not.toBe(o.uuid);
    expect(seen.machineId).not.toBe(o.machineId);
    expect(seen.clientId).not.toBe(o.clientId);
  }
  return seen;
}

describe('a linked clone of the running guest, and a VM from an image of it, each with its own identity', () => {
  const CLONE = 'uefi2';
  const IMAGE = 'uefi-tpl';
  const FROM_IMAGE = 'uefi3';
  let source: GuestIdentity;
  let clone: GuestIdentity;

  it('the source is itself: hostname, MAC, UUID and machine-id (systemd took the SMBIOS UUID)', async () => {
    const v = await d.vm(VM);
    source = await guestIdentity(VM);
    expect(source).toMatchObject({ hostname: VM, mac: v.nics[0]!.mac, uuid: v.uuid, machineId: v.uuid!.replace(/-/g, '') });
    expect(source.clientId).not.toBe('');
  }, 60_000);

  it('a linked clone of the running guest boots as itself', async () => {
    const r = await d.cli(['vm', 'clone', VM, CLONE, '--linked', '--start', '--output', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const reply = JSON.parse(r.stdout) as { linked: boolean; pauseMs: number };
    expect(reply.linked).toBe(true);
    console.log(`linked clone of the running Debian guest: source paused ${reply.pauseMs.toFixed(1)} ms`);
    expect((await d.vm(VM)).state).toBe('running');
    await agentUp(400_000, CLONE);
    clone = await expectOwnIdentity(CLONE, [source]);
    // The source is untouched.
    expect(await guestIdentity(VM)).toEqual(source);
  }, 700_000);

  it('a VM made from an image of the clone boots as itself', async () => {
    const img = await d.cli(['image', 'create', IMAGE, '--from-vm', CLONE], undefined, 300_000);
    expect(img.code, img.stderr).toBe(0);
    expect((await d.cli(['vm', 'delete', CLONE, '--force'])).code).toBe(0);
    const r = await d.cli(['vm', 'create', FROM_IMAGE, '--image', IMAGE, '--firmware', 'uefi', '--cpus', '2', '--memory', '1G', '--hostname', FROM_IMAGE, '--start']);
    expect(r.code, r.stderr).toBe(0);
    await agentUp(400_000, FROM_IMAGE);
    await expectOwnIdentity(FROM_IMAGE, [source, clone]);
    expect((await d.cli(['vm', 'delete', FROM_IMAGE, '--force'])).code).toBe(0);
    expect((await d.cli(['image', 'delete', IMAGE])).code).toBe(0);
  }, 900_000);
});
