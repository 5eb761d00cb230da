/**
 * Secure Boot on the Debian guest built for UEFI (`debian-12-uefi`: Debian's signed shim,
 * GRUB and generic kernel on an EFI system partition): with `--secure-boot` it boots, and in
 * the guest /sys/firmware/efi exists and the SecureBoot variable reads enabled (through the
 * guest agent). Skipped, saying so, when that image is not built here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from './harness.js';

const IMAGE = 'debian-12-uefi';
let d: TestDaemon;
let ready = false;

beforeAll(async () => {
  d = await TestDaemon.start();
  const img = (await d.api.images.list()).find((i) => i.name === IMAGE);
  ready = img?.status === 'ready';
  if (!ready) console.warn(`secure-boot-debian: image ${IMAGE} is ${img?.status ?? 'unknown here'}; skipping (build it with \`hangar image build ${IMAGE}\`)`);
}, 60_000);
afterAll(async () => {
  await d?.cleanup();
});

async function exec(vm: string, script: string): Promise<{ exitCode: number; stdout: string }> {
  return d.api.vms.exec(vm, { argv: ['/bin/sh', '-c', script], timeoutSeconds: 30 });
}

describe('Secure Boot on the Debian UEFI guest', () => {
  it('boots with --secure-boot: /sys/firmware/efi exists and SecureBoot reads enabled', async (ctx) => {
    if (!ready) ctx.skip();
    const r = await d.cli(['vm', 'create', 'sbdeb', '--image', IMAGE, '--memory', '1G', '--firmware', 'uefi', '--secure-boot', '--start']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the guest agent to answer', async () => (await exec('sbdeb', 'true')).exitCode === 0, 240_000, 2000);
    const efi = await exec('sbdeb', 'test -d /sys/firmware/efi && echo EFI=yes; od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -s " "');
    expect(efi.stdout).toContain('EFI=yes');
    // 4 attribute bytes, then the value: 1 = enabled.
    expect(efi.stdout).toMatch(/^ ?6 0 0 0 1\s*$/m);
    // The kernel says it too (lockdown follows Secure Boot on Debian's kernel).
    const dmesg = await exec('sbdeb', 'dmesg 2>&1 | grep -i "secure boot" | head -3');
    expect(dmesg.stdout).toMatch(/Secure boot enabled/i);
  }, 400_000);
});
