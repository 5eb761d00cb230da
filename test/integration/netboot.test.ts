/**
 * Network boot on a managed network: the network's dnsmasq serves a TFTP root the test made
 * (the tiny image's kernel and initramfs, and an iPXE script as the DHCP boot file); a VM with
 * only a blank disk and `--boot network` boots it through its NIC's iPXE ROM, under BIOS and
 * under UEFI, and reaches the same ready prompt as a tiny guest booted with -kernel. Bad
 * settings are refused with nothing created; deleting everything leaves the host as it was.
 */
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, readTinyImage } from '../../src/images/tiny/build.js';
import type { Network } from '../../src/contract/index.js';
import { guestRun, TestDaemon, waitFor, waitForGuestReady } from './harness.js';
import { hostNetSnapshot } from './host-net.js';

const PREFIX = 'hgn';
const third = 100 + Math.floor(Math.random() * 100);
const subnet = `10.217.${third}.0/24`;
/** On the kernel command line the iPXE script gives: the guest proves it booted from our TFTP root. */
const MARK = 'hangar.netboot=tftp';
let d: TestDaemon;
let tftp: string;

beforeAll(async () => {
  const tiny = await readTinyImage(defaultCacheDir());
  if (!tiny) throw new Error('the tiny image is not built (the integration global setup builds it)');
  tftp = mkdtempSync('/tmp/hgt-tftp-');
  chmodSync(tftp, 0o755); // dnsmasq serves TFTP as nobody
  copyFileSync(tiny.kernel, join(tftp, 'vmlinuz'));
  copyFileSync(tiny.initrd, join(tftp, 'initrd.img'));
  // `initrd=` names the initramfs for the kernel's EFI stub (UEFI); a BIOS boot ignores it.
  writeFileSync(join(tftp, 'boot.ipxe'), [
    '#!ipxe',
    'echo HANGAR-NETBOOT-SCRIPT from ${next-server}',
    `kernel tftp://\${next-server}/vmlinuz ${tiny.cmdline} initrd=initrd.img ${MARK}`,
    'initrd tftp://${next-server}/initrd.img',
    'boot',
    '',
  ].join('\n'));
  for (const f of ['vmlinuz', 'initrd.img', 'boot.ipxe']) chmodSync(join(tftp, f), 0o644);
  d = await TestDaemon.start({ netPrefix: PREFIX });
});
afterAll(async () => {
  await d?.cleanup();
  if (tftp) rmSync(tftp, { recursive: true, force: true });
});

/** Boots `vm` (created with `flags`) from the network and checks what its serial log and guest show. */
async function netboot(vm: string, flags: string[]): Promise<void> {
  const started = Date.now();
  const r = await d.cli(['vm', 'create', vm, '--memory', '256M', '--network', 'pxe', '--disk-size', '16M', '--boot', 'network,disk', ...flags, '--start']);
  expect(r.code, r.stderr).toBe(0);
  const v = await d.vm(vm);
  expect(v.image).toBeUndefined();
  expect(v.bootOrder).toEqual(['network', 'disk']);
  await waitForGuestReady(d, vm, { timeoutMs: 240_000 });
  const log = (await d.api.vms.logs(vm, { offset: 0 })).data;
  // iPXE (on the serial port: OVMF's console, SeaBIOS's serial console) asked DHCP and fetched the files.
  expect(log).toContain('Filename: boot.ipxe');
  expect(log).toMatch(/tftp:\/\/10\.217\.\d+\.1\/boot\.ipxe\.\.\. ok/);
  expect(log).toContain(`HANGAR-NETBOOT-SCRIPT from 10.217.${third}.1`);
  // Big files show a percentage (redrawn with backspaces) before the "ok".
  expect(log).toMatch(/tftp:\/\/10\.217\.\d+\.1\/vmlinuz\.\.\.[^\n]* ok/);
  // The initrd's "ok" may be cut by the kernel's console reset right after it; the guest
  // booting to READY with the script's command line shows the initrd arrived.
  expect(log).toMatch(/tftp:\/\/10\.217\.\d+\.1\/initrd\.img\.\.\./);
  expect(await guestRun(d, vm, 'cat /proc/cmdline')).toContain(MARK);
  process.stderr.write(`[netboot] ${vm} (${flags.join(' ') || 'bios'}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

describe('network boot', () => {
  it('refuses bad TFTP roots and boot files with nothing created', async () => {
    const before = await hostNetSnapshot(d, PREFIX);
    const cases: Array<[string[], string]> = [
      [['--tftp-root', 'srv/tftp', '--boot-file', 'boot.ipxe'], 'absolute path'],
      [['--tftp-root', join(tftp, 'missing'), '--boot-file', 'boot.ipxe'], 'does not exist'],
      [['--tftp-root', join(tftp, 'boot.ipxe'), '--boot-file', 'boot.ipxe'], 'not a directory'],
      [['--tftp-root', tftp, '--boot-file', '../etc/shadow'], 'relative path'],
      [['--tftp-root', tftp, '--boot-file', 'boot.ipxe,x,10.0.0.1'], 'relative path'],
      [['--tftp-root', `${tftp},lo`, '--boot-file', 'boot.ipxe'], 'TFTP root'],
      [['--boot-file', 'boot.ipxe'], '--tftp-root'],
      [['--tftp-root', tftp, '--boot-file', 'boot.ipxe', '--parent', 'lo'], 'parent'],
    ];
    for (const [flags, why] of cases) {
      const r = await d.cli(['network', 'create', 'bad', '--subnet', subnet, ...flags]);
      expect(r.code, flags.join(' ')).toBe(1);
      expect(r.stderr, flags.join(' ')).toContain('INVALID_SPEC');
      expect(r.stderr, flags.join(' ')).toContain(why);
    }
    expect(await d.api.networks.list()).toEqual([]);
    expect(await hostNetSnapshot(d, PREFIX)).toEqual(before);
  });

  it('a VM with a blank disk boots over TFTP through iPXE, under BIOS and UEFI; delete leaves the host clean', async () => {
    const before = await hostNetSnapshot(d, PREFIX);
    const r = await d.cli(['network', 'create', 'pxe', '--subnet', subnet, '--tftp-root', `${tftp}/`, '--boot-file', 'boot.ipxe']);
    expect(r.code, r.stderr).toBe(0);
    const n = await d.api.call<Network>('GET', '/v1/networks/pxe');
    expect(n).toMatchObject({ tftpRoot: tftp, bootFile: 'boot.ipxe' });
    expect((await hostNetSnapshot(d, PREFIX)).dnsmasq).toContain(`--tftp-root=${tftp} --tftp-no-fail --dhcp-boot=boot.ipxe`);

    await netboot('pxe-bios', []);
    await netboot('pxe-uefi', ['--firmware', 'uefi']);

    for (const vm of ['pxe-bios', 'pxe-uefi']) expect((await d.cli(['vm', 'delete', vm, '--force'])).code).toBe(0);
    expect((await d.cli(['network', 'delete', 'pxe'])).code).toBe(0);
    await waitFor('the host to be clean', async () => JSON.stringify(await hostNetSnapshot(d, PREFIX)) === JSON.stringify(before), 10_000, 250);
  }, 600_000);
});
