/**
 * The web UI's Import page (Debian's chromium, headless, against the real daemon): a libvirt
 * domain XML file is chosen, checked (refused with each unsupported element listed, nothing
 * made), checked again leaving those out (a dry run: still nothing made), then imported; the
 * page links to the new VM, which keeps libvirt's UUID and MAC and boots the tiny guest.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyManifestPath } from '../../bench/lib/libvirt.js';
import { guestRun, TestDaemon, waitForGuestReady } from './harness.js';
import { signedInUi } from './ui-browser.js';

const UUID = '6a1e9d5c-3f0b-4c4e-9b7a-2d1f0e8c7b61';
const MAC = '52:54:00:6c:1b:2a';
let d: TestDaemon;
let browser: Browser;
let page: Page;
let xmlFile: string;
let pageErrors: string[] = [];

beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0'] });
  // A direct-kernel domain as `virsh dumpxml` writes one, with a sound card Hangar has no match for.
  const m = JSON.parse(readFileSync(tinyManifestPath(), 'utf8')) as { kernel: string; initrd: string; cmdline: string };
  copyFileSync(m.kernel, join(d.dir, 'vmlinuz'));
  copyFileSync(m.initrd, join(d.dir, 'initrd.img'));
  xmlFile = join(d.dir, 'ui-lv.xml');
  writeFileSync(xmlFile, `<domain type='qemu'>
  <name>ui-lv</name>
  <uuid>${UUID}</uuid>
  <memory unit='KiB'>196608</memory>
  <currentMemory unit='KiB'>196608</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <kernel>${join(d.dir, 'vmlinuz')}</kernel>
    <initrd>${join(d.dir, 'initrd.img')}</initrd>
    <cmdline>${m.cmdline}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='maximum' check='none'/>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface>
    <serial type='pty'><target type='isa-serial' port='0'/></serial>
    <sound model='ich9'/>
  </devices>
</domain>
`);
  ({ browser, page, pageErrors } = await signedInUi(d));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await d?.cleanup();
});

describe('importing a libvirt domain in the web UI', () => {
  it('lists what it cannot carry over and makes nothing, then imports leaving it out', async () => {
    await page.click('nav a[href="#/import"]');
    await page.waitForSelector('h1:text("Import a VM")');
    await page.setInputFiles('input[name=xml-file]', xmlFile);
    await page.waitForFunction(() => (document.querySelector('textarea[name=xml]') as HTMLTextAreaElement | null)?.value.includes('<domain'));

    await page.click('button:text("Check")');
    expect(await (await page.waitForSelector('[role=alert]')).getAttribute('data-code')).toBe('IMPORT_UNSUPPORTED');
    const refused = await page.$$eval('tr[data-unsupported]', (rows) => rows.map((r) => r.getAttribute('data-unsupported')));
    expect(refused.some((p) => p?.includes('sound'))).toBe(true);
    expect(await d.api.vms.list()).toEqual([]);

    await page.check('input[name=ignore-unsupported]');
    await page.click('button:text("Check")');
    await page.waitForSelector('.import-result[data-dry-run=true]');
    expect(await d.api.vms.list()).toEqual([]);

    await page.click('button:text("Import")');
    await page.waitForSelector('.import-result[data-dry-run=false] a:text("ui-lv")');
    expect(await page.$$eval('tr[data-unsupported]', (rows) => rows.length)).toBeGreaterThan(0);
    await page.click('.import-result a:text("ui-lv")');
    await page.waitForSelector('h1:text("ui-lv")');
    expect(pageErrors).toEqual([]);

    const vm = await d.vm('ui-lv');
    expect(vm).toMatchObject({ state: 'stopped', cpus: 1, memory: 192 });
    const r = await d.cli(['vm', 'start', 'ui-lv']);
    expect(r.code, r.stderr).toBe(0);
    await waitForGuestReady(d, 'ui-lv');
    const inside = await guestRun(d, 'ui-lv', 'cat /sys/class/dmi/id/product_uuid /sys/class/net/eth0/address');
    expect(inside.toLowerCase()).toContain(UUID);
    expect(inside.toLowerCase()).toContain(MAC);
  }, 120_000);
});
