/**
 * The web UI in a real browser (Debian's Chromium through playwright-core, headless) against
 * the real daemon's TLS listener and the tiny guest: sign in with an API token, create a VM
 * in the dialog and watch it reach `running` without a reload, type into the serial console,
 * see the VNC canvas draw, take a snapshot, stop the VM. Every page is screenshotted into
 * test-artifacts/ui/. Then, from the page, console WebSockets without a valid console token.
 * Installer media (issue 15): a VM made in the dialog from an ISO (two tiny ISO 9660 images
 * made here with xorriso) with a blank disk, UEFI, a TPM and an OS profile; and the medium of
 * a running guest's CD-ROM drive ejected and another inserted from the VM page.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestDaemon, waitForGuestReady } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const VM = 'webui';
/** Made in the dialog from an ISO (not started). */
const ISO_VM = 'webui-iso';
/** The tiny guest with a CD-ROM drive whose medium the page changes while it runs. */
const CD_VM = 'webui-cd';
const run = promisify(execFile);

let d: TestDaemon;
let base: string;
let token: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let isoA: string;
let isoB: string;
const consoleLines: string[] = [];
const pageErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The text of the serial console's terminal, one string per row. */
function terminalRows(): Promise<string[]> {
  return page.$$eval('[data-console=serial] .xterm-rows > div', (rows) => rows.map((r) => r.textContent ?? ''));
}

/** The files a process has open (what QEMU holds, after QMP changed a medium). */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

/** A tiny ISO 9660 image of one text file (xorriso), imported as an `iso` image; returns its path in the image store. */
async function importIso(name: string): Promise<string> {
  const tree = join(d.dir, 'iso-src', name);
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(tree, 'README.TXT'), `Hangar web UI test medium ${name}\n`);
  const file = join(d.dir, 'iso-src', `${name}.iso`);
  await run('xorriso', ['-as', 'mkisofs', '-quiet', '-V', name.toUpperCase().replace(/-/g, '_'), '-o', file, tree]);
  const r = await d.cli(['image', 'import', name, '--file', file]);
  expect(r.code, r.stderr).toBe(0);
  const img = await d.api.images.get(name);
  expect(img).toMatchObject({ kind: 'iso', status: 'ready' });
  return img.iso!.path;
}

/** Waits for the page to show `text` as the medium of CD-ROM drive cd0 (the cell's whole text). */
async function waitForMedium(text: string): Promise<void> {
  await page.waitForFunction((t) => document.querySelector('tr[data-cdrom=cd0] [data-medium]')?.textContent === t, text, { timeout: 15_000 });
}

/** Clicks a media button and returns the API's reply to it (status and body, for the assertion's message). */
async function mediaAction(action: 'eject' | 'insert'): Promise<{ status: number; body: string }> {
  const reply = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/v1/vms/${CD_VM}/media/${action}`));
  await page.click(`tr[data-cdrom=cd0] button[data-action=${action}]`);
  const r = await reply;
  return { status: r.status(), body: await r.text() };
}

/** The value of a row of the VM page's overview. */
function overviewField(label: string): Promise<string | null> {
  return page.textContent(`.fields [data-field="${label}"] dd`);
}

async function openTab(tab: string): Promise<void> {
  await page.click(`.tabs a[href$="/${tab}"]`);
  await page.waitForSelector(`.tabs a[href$="/${tab}"].active`);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'ui', 'dist', 'index.html'))) {
    throw new Error('The web UI is not built: run scripts/setup, or `npm ci && npm run build` in ui/.');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup installs Debian's chromium package.`);
  mkdirSync(SHOTS, { recursive: true });
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0', '--metrics-interval', '1'] });
  const host = await d.api.call<{ tls?: { listen: string[] } }>('GET', '/v1/host');
  base = `https://${host.tls!.listen[0]}`;
  const t = await d.cli(['token', 'create', 'browser', '--role', 'operator']);
  expect(t.code, t.stderr).toBe(0);
  token = t.stdout.trim();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
});

afterAll(async () => {
  await browser?.close();
  await d?.cleanup();
});

describe('the web UI', () => {
  it('is served without a token, the API is not', async () => {
    const res = await context.request.get(`${base}/`);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-security-policy']).toContain("default-src 'self'");
    expect((await context.request.get(`${base}/v1/vms`)).status()).toBe(401);
  });

  it('signs in with an API token and shows the dashboard', async () => {
    await page.goto(`${base}/`);
    await page.fill('input[name=token]', 'hgr_000000000000_wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error[data-code=UNAUTHENTICATED]');
    await shot('01-login');
    await page.fill('input[name=token]', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('h1:text("Dashboard")');
    await page.waitForSelector('.card h2:text-matches("^Host ")');
    await page.waitForSelector('nav .live.on');
    await shot('02-dashboard');
  });

  it('creates a VM in the dialog (API validation shown first) and follows it to running without a reload', async () => {
    await page.click('nav a[href="#/vms"]');
    await page.waitForSelector('h1:text("Virtual machines")');
    // Marks this document: a reload would lose it.
    await page.evaluate(() => ((window as unknown as { hangarMark: number }).hangarMark = 42));
    await page.click('button:text("Create VM")');
    await page.waitForSelector('dialog[open]');
    await page.fill('dialog input[name=name]', '9-not-a-name');
    await page.click('dialog button[type=submit]');
    const err = await page.waitForSelector('dialog .error');
    expect(await err.getAttribute('data-code')).toMatch(/^INVALID_(NAME|SPEC)$/);
    expect(await page.locator('dialog label.invalid input[name=name]').count()).toBe(1);
    await shot('03-create-dialog-validation');
    await page.fill('dialog input[name=name]', VM);
    await page.fill('dialog input[name=memory]', '256M');
    // A small data disk: snapshots need a qcow2 disk (the tiny image boots from RAM).
    await page.fill('dialog input[name=diskSize]', '64M');
    await shot('04-create-dialog');
    await page.click('dialog button[type=submit]');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.waitForSelector(`tr[data-vm=${VM}]`);
    await page.waitForSelector(`tr[data-vm=${VM}] [data-state=running]`, { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { hangarMark?: number }).hangarMark)).toBe(42);
    expect((await d.vm(VM)).state).toBe('running');
    await shot('05-vm-list-running');
  });

  it('shows the VM: overview, and the serial console answers echo $((6*7)) with 42', async () => {
    await page.click(`tr[data-vm=${VM}] a`);
    await page.waitForSelector('.vm-detail .fields');
    await shot('06-vm-overview');
    await openTab('console');
    await page.waitForSelector('[data-conn=open]');
    // The guest prints its READY line, then its shell prompt.
    await page.waitForFunction(() => {
      const text = [...document.querySelectorAll('[data-console=serial] .xterm-rows > div')].map((r) => r.textContent ?? '').join('\n');
      const at = text.lastIndexOf('HANGAR-GUEST-READY');
      return at >= 0 && text.indexOf('# ', at) > at;
    }, undefined, { timeout: 90_000 });
    await page.click('[data-console=serial]');
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-console=serial] .xterm-rows > div')].some((r) => (r.textContent ?? '').trim() === '42'),
      undefined, { timeout: 30_000 },
    );
    const rows = await terminalRows();
    expect(rows.some((r) => r.includes('echo $((6*7))'))).toBe(true);
    await shot('07-serial-console');
  });

  it('opens the graphical console (noVNC): the canvas draws the guest\'s screen', async () => {
    await openTab('display');
    await page.waitForSelector('[data-conn=open]', { timeout: 30_000 });
    const drawn = await page.waitForFunction(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-console=vnc] canvas');
      if (!canvas || canvas.width < 100 || canvas.height < 100) return false;
      const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let lit = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i]! + px[i + 1]! + px[i + 2]! > 60) lit++;
      return lit > 50 ? { width: canvas.width, height: canvas.height, lit } : false;
    }, undefined, { timeout: 60_000 });
    const info = (await drawn.jsonValue()) as { width: number; height: number; lit: number };
    expect(info.width).toBeGreaterThanOrEqual(640);
    expect(await page.isEnabled('button[data-action=ctrl-alt-del]')).toBe(true);
    expect(await page.isEnabled('button[data-action=fullscreen]')).toBe(true);
    await shot('08-vnc-console');
  });

  it('draws the live graphs from the daemon\'s samples', async () => {
    await openTab('metrics');
    await page.waitForSelector('.chart[data-chart=CPU] canvas');
    expect(await page.locator('.chart canvas').count()).toBe(4);
    // Samples every second (--metrics-interval 1): wait for a few to be drawn.
    await page.waitForFunction(() => document.querySelectorAll('.chart[data-chart=CPU] .u-legend').length > 0);
    await page.waitForTimeout(2500);
    await shot('09-graphs');
  });

  it('takes a snapshot', async () => {
    await openTab('snapshots');
    await page.fill('input[name=snapshot]', 'first');
    await page.click('button:text("Take snapshot")');
    await page.waitForSelector('tr[data-snapshot=first]', { timeout: 60_000 });
    const snaps = await d.api.call<{ name: string }[]>('GET', `/v1/vms/${VM}/snapshots`);
    expect(snaps.map((s) => s.name)).toEqual(['first']);
    await shot('10-snapshots');
  });

  it('shows disks and NICs, settings and the VM\'s events', async () => {
    await openTab('hardware');
    await page.waitForSelector('tr[data-disk]');
    await page.waitForSelector('tr[data-nic]');
    await shot('11-disks-nics');
    await openTab('settings');
    await page.waitForSelector('form.settings input[name=cpus]');
    await shot('12-settings');
    await openTab('events');
    await page.waitForSelector('tr[data-event="snapshot.created"]');
    await shot('13-vm-events');
  });

  it('refuses console WebSockets opened from the page without a valid console token', async () => {
    expect((await d.cli(['vm', 'create', 'other', '--image', 'tiny', '--no-vnc'])).code).toBe(0);
    const logged = consoleLines.length;
    const results = await page.evaluate(async ({ vm }) => {
      const auth = { authorization: `Bearer ${sessionStorage.getItem('hangar.token') ?? ''}`, 'content-type': 'application/json' };
      const grant = async (name: string) => (await (await fetch(`/v1/vms/${name}/console-tokens`, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'serial' }) })).json()) as { path: string; token: string };
      const tryOpen = (path: string) => new Promise<string>((resolve) => {
        const ws = new WebSocket(`wss://${location.host}${path}`);
        ws.onopen = () => {
          ws.close();
          resolve('open');
        };
        ws.onerror = () => resolve('refused');
      });
      const g = await grant(vm);
      const other = await grant('other');
      return {
        none: await tryOpen(`/v1/vms/${vm}/console`),
        fresh: await tryOpen(g.path),
        used: await tryOpen(g.path),
        otherVm: await tryOpen(`/v1/vms/${vm}/console?token=${encodeURIComponent(other.token)}`),
      };
    }, { vm: VM });
    expect(results).toEqual({ none: 'refused', fresh: 'open', used: 'refused', otherVm: 'refused' });
    // Chromium logs why each handshake failed: 401 (no token), 401 (spent token), 403 (another VM's).
    await page.waitForTimeout(200);
    const codes = consoleLines.slice(logged).map((l) => (/HTTP Authentication failed/.test(l) ? '401' : /Unexpected response code: (\d+)/.exec(l)?.[1])).filter(Boolean);
    expect(codes, consoleLines.slice(logged).join('\n')).toEqual(['401', '401', '403']);
  });

  it('shows the images, volumes and networks pages', async () => {
    await page.click('nav a[href="#/images"]');
    await page.waitForSelector('tr[data-image=tiny]');
    await shot('14-images');
    await page.click('nav a[href="#/volumes"]');
    await page.waitForSelector('[data-pool=default]');
    await shot('15-volumes');
    await page.click('nav a[href="#/networks"]');
    await page.waitForSelector('h1:text("Networks")');
    await shot('16-networks');
  });

  it('creates a VM to install from an ISO in the dialog: blank disk, UEFI, TPM, OS profile', async () => {
    const t0 = Date.now();
    isoA = await importIso('media-a');
    isoB = await importIso('media-b');
    await page.click('nav a[href="#/vms"]');
    await page.waitForSelector('h1:text("Virtual machines")');
    await page.click('button:text("Create VM")');
    await page.waitForSelector('dialog[open]');
    await page.fill('dialog input[name=name]', ISO_VM);
    // The ISO list is the images of kind iso (loaded by the dialog): selectOption waits for it.
    await page.selectOption('dialog select[name=iso]', 'media-a');
    expect(await page.isDisabled('dialog select[name=image]')).toBe(true);
    expect(await page.locator('dialog select[name=image] option[value=media-a]').count()).toBe(0);
    await page.fill('dialog input[name=diskSize]', '64M');
    await page.selectOption('dialog select[name=os]', 'other');
    await page.selectOption('dialog select[name=firmware]', 'uefi');
    await page.check('dialog input[name=tpm]');
    await page.uncheck('dialog input[name=start]');
    await shot('17-create-dialog-iso');
    await page.click('dialog button[type=submit]');
    await page.waitForSelector('dialog', { state: 'detached' });
    await page.waitForSelector(`tr[data-vm=${ISO_VM}] [data-state=stopped]`);

    // What the daemon made of it.
    const vm = await d.vm(ISO_VM);
    expect(vm.state).toBe('stopped');
    expect(vm.image).toBeUndefined();
    expect(vm.firmware).toMatchObject({ kind: 'uefi', secureBoot: false, nvram: { volume: `${ISO_VM}-nvram` } });
    expect(vm.tpm).toEqual({ model: 'crb', version: '2.0' });
    // The "other" profile: q35 with devices every OS has drivers for (the CD-ROM on SATA).
    expect(vm.hardware?.os).toBe('other');
    expect(vm.machine).toBe('q35');
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'sata', image: 'media-a', path: isoA, bootIndex: 1 }]);
    expect(vm.bootOrder).toEqual(['disk', 'cdrom']);
    expect(vm.disks).toEqual([expect.objectContaining({ id: 'disk0', volume: `${ISO_VM}-root`, boot: true })]);
    const root = await d.api.call<{ sizeBytes: number; ownedBy?: string }>('GET', `/v1/volumes/default/${ISO_VM}-root`);
    expect(root).toMatchObject({ sizeBytes: 64 << 20, ownedBy: ISO_VM });

    // And what its page shows.
    await page.click(`tr[data-vm=${ISO_VM}] a`);
    await page.waitForSelector('.vm-detail .fields');
    expect(await overviewField('Firmware')).toBe('UEFI');
    expect(await overviewField('TPM')).toBe('TPM 2.0 (swtpm)');
    expect(await overviewField('OS')).toBe('other');
    expect(await overviewField('Boot order')).toBe('disk, cdrom');
    await shot('18-vm-from-iso');
    await openTab('hardware');
    expect(await page.textContent('tr[data-cdrom=cd0] [data-medium]')).toBe('media-a');
    console.log(`create from ISO in the dialog: ${Date.now() - t0} ms`);
  });

  it('ejects the medium of a running guest from its page, then inserts another ISO', async () => {
    const t0 = Date.now();
    await d.api.call('POST', '/v1/vms', { name: CD_VM, image: 'tiny', iso: 'media-a', memory: 256, vnc: false, start: true });
    let vm = await d.vm(CD_VM);
    expect(vm.state).toBe('running');
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'scsi', image: 'media-a', path: isoA }]);
    const pid = vm.pid!;
    expect(openFiles(pid)).toContain(isoA);
    // The guest is up (its kernel has scanned the drive) before the tray moves.
    await waitForGuestReady(d, CD_VM);

    await page.goto(`${base}/#/vms/${CD_VM}/hardware`);
    await page.waitForSelector('.vm-detail .title-row [data-state=running]');
    await waitForMedium('media-a');
    await shot('19-media-inserted');

    // Eject: the page shows the drive empty, the spec has no medium, QEMU let go of the ISO.
    const ejected = await mediaAction('eject');
    expect(ejected.status, ejected.body).toBe(200);
    await waitForMedium('empty');
    expect(await page.locator('.media .error').count()).toBe(0);
    vm = await d.vm(CD_VM);
    expect(vm.state).toBe('running');
    expect(vm.pid).toBe(pid);
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'scsi' }]);
    expect(openFiles(pid)).not.toContain(isoA);
    await shot('20-media-ejected');

    // Insert the other ISO: live, into the same QEMU.
    expect(await page.isDisabled('tr[data-cdrom=cd0] button[data-action=insert]')).toBe(true);
    await page.selectOption('tr[data-cdrom=cd0] select', 'media-b');
    const inserted = await mediaAction('insert');
    expect(inserted.status, inserted.body).toBe(200);
    await waitForMedium('media-b');
    vm = await d.vm(CD_VM);
    expect(vm.pid).toBe(pid);
    expect(vm.cdroms).toEqual([{ id: 'cd0', bus: 'scsi', image: 'media-b', path: isoB }]);
    const files = openFiles(pid);
    expect(files).toContain(isoB);
    expect(files).not.toContain(isoA);
    await shot('21-media-changed');
    // A reload shows the same (from the API, not the page's memory).
    await page.reload();
    await waitForMedium('media-b');
    await d.api.call('POST', `/v1/vms/${CD_VM}/stop`, { force: true });
    console.log(`media eject/insert from the page: ${Date.now() - t0} ms`);
  });

  it('stops the VM from its page and sees it stopped', async () => {
    await page.goto(`${base}/#/vms/${VM}`);
    await page.waitForSelector('.vm-detail [data-state=running]');
    await page.click('.vm-detail .title-row button[data-action=stop]');
    await page.waitForSelector('.vm-detail .title-row [data-state=stopped]', { timeout: 90_000 });
    expect((await d.vm(VM)).state).toBe('stopped');
    await page.click('nav a[href="#/"]');
    await page.waitForSelector('[data-count=stopped]');
    await shot('22-dashboard-after');
    expect(pageErrors).toEqual([]);
    // The page's Content-Security-Policy (self only) let everything it needs through.
    expect(consoleLines.filter((l) => /Content Security Policy/i.test(l))).toEqual([]);
  });
});
