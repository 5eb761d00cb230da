/**
 * The `debian-12-uefi` guest (Debian's signed shim, GRUB and generic kernel) under TCG, one
 * guest for the checks that need a real UEFI operating system: Secure Boot enabled as the
 * guest sees it, an EFI variable and a TPM NV index the guest writes surviving a restart and
 * a save/restore, PCRs the firmware extended, and the Windows-profile hardware (a SATA disk,
 * an e1000e NIC with a DHCP lease) working in a Linux guest that has those drivers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from './harness.js';

const VM = 'uefi1';
const GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
/** A vendor GUID of the test's own. */
const TEST_GUID = 'c1e2a3b4-0015-4d15-8a15-000000000015';
const NV_INDEX = '0x1500015';
let d: TestDaemon;

async function sh(script: string): Promise<string> {
  const r = await d.cli(['vm', 'exec', VM, '--', 'sh', '-c', script]);
  expect(r.code, `${script}\n${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

/** Until the guest agent answers exec (after a boot or a restore). */
async function agentUp(timeoutMs = 400_000): Promise<void> {
  await waitFor('the guest agent', async () => (await d.cli(['vm', 'exec', VM, '--', 'true'])).code === 0, timeoutMs, 3000);
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
