/**
 * The web UI's "Create from template" dialog (Debian's chromium, headless, against the real
 * daemon): one debian-12 guest with file-backed memory is booted (agent answering,
 * cloud-init done) and made a warm template, then stopped. In the dialog the template is
 * picked; a name that is taken is refused with the API's code and message, next to the
 * name; then a clone is made: the dialog shows its busy state, closes, and the clone is in
 * the list, running. Its detail page shows its template and how much of its guest RAM is
 * still the template's (shared) and its own (private), as GET /v1/vms/{name} and the
 * Prometheus metrics do.
 */
import { request } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';
import { signedInUi } from './ui-browser.js';

let d: TestDaemon;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

function scrape(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series, by its exact `name{labels}` text. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0', '--metrics-interval', '1'] });
  const t0 = Date.now();
  const r = await d.cli(['vm', 'create', 'tsrc', '--image', 'debian-12', '--cpus', '1', '--memory', '512M', '--memory-backing', 'file', '--hostname', 'tsrc', '--start'], undefined, 120_000);
  expect(r.code, r.stderr).toBe(0);
  await waitFor('the guest agent', async () => ((await d.cli(['vm', 'exec', 'tsrc', '--', 'true'], undefined, 20_000)).code === 0 ? true : undefined), 300_000, 2000);
  const ci = await d.cli(['vm', 'exec', 'tsrc', '--', 'cloud-init', 'status', '--wait'], undefined, 200_000);
  expect(ci.stdout).toContain('done');
  const t = await d.cli(['template', 'create', 'deb', '--from-vm', 'tsrc'], undefined, 180_000);
  expect(t.code, t.stderr).toBe(0);
  // The source is not needed any more: one guest at a time under TCG.
  expect((await d.cli(['vm', 'stop', 'tsrc', '--force'])).code).toBe(0);
  console.log(`web-ui-templates: source booted and template made in ${Date.now() - t0} ms`);
  ({ browser, page, pageErrors } = await signedInUi(d));
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await d?.cleanup();
});

describe('creating VMs from a warm template in the web UI', () => {
  it('lists the templates and refuses a name that is taken with the API\'s code, next to the field', async () => {
    await page.click('nav a[href="#/vms"]');
    await page.waitForSelector('h1:text("Virtual machines")');
    await page.click('button:text("Create from template")');
    const dialog = await page.waitForSelector('dialog[open]');
    await page.waitForSelector('dialog select[name=template] option[value=deb]');
    expect(await page.textContent('dialog .template-summary')).toContain('made of tsrc');
    await page.fill('dialog input[name=name]', 'tsrc');
    await page.click('dialog button[type=submit]');
    const alert = await page.waitForSelector('dialog [role=alert]');
    expect(await alert.getAttribute('data-code')).toBe('VM_EXISTS');
    expect(await page.textContent('dialog label.invalid .field-error')).toContain('"tsrc" already exists');
    expect(await dialog.isVisible()).toBe(true);
  }, 60_000);

  it('makes a clone: busy while it runs, then the clone is in the list, running, with its warm memory shown', async () => {
    await page.fill('dialog input[name=name]', 'wc');
    await page.fill('dialog input[name=count]', '1');
    const t0 = Date.now();
    await page.click('dialog button[type=submit]');
    // The busy state: the status line and a disabled submit button.
    await page.waitForSelector('dialog [role=status]');
    expect(await page.isDisabled('dialog button[type=submit]')).toBe(true);
    await page.waitForSelector('dialog', { state: 'detached', timeout: 180_000 });
    console.log(`web-ui-templates: dialog → clone in the list in ${Date.now() - t0} ms`);
    await page.waitForSelector('tr[data-vm="wc"] [data-state="running"]', { timeout: 10_000 });

    const vm = await d.vm('wc');
    expect(vm.state).toBe('running');
    expect(vm.template).toBe('deb');
    const warm = vm.warmMemory;
    expect(warm?.template).toBe('deb');
    console.log(`web-ui-templates: wc shares ${warm!.sharedBytes} bytes of the template's memory, ${warm!.privateBytes} private`);
    expect(warm!.sharedBytes + warm!.privateBytes).toBeGreaterThan(0);
    expect(warm!.sharedBytes + warm!.privateBytes).toBeLessThanOrEqual(512 * 2 ** 20);
    // A VM that is not a clone has none.
    expect((await d.vm('tsrc')).warmMemory).toBeUndefined();

    // The detail page shows the template and the warm memory next to the memory.
    await page.click('tr[data-vm="wc"] a:text("wc")');
    await page.waitForSelector('[data-field="Template"] dd:text("deb")');
    const shown = await page.textContent('[data-field="Warm memory"] dd');
    expect(shown).toMatch(/shared with template deb, .* private/);

    // The same figures as Prometheus metrics (sampled every second here).
    const text = await waitFor('the warm memory metrics', async () => {
      const m = await scrape();
      return series(m, 'hangar_vm_memory_template_shared_bytes{vm="wc"}') !== undefined ? m : undefined;
    }, 15_000, 500);
    expect(series(text, 'hangar_vm_memory_template_private_bytes{vm="wc"}')).toBeGreaterThanOrEqual(0);
    expect(series(text, 'hangar_vm_memory_template_shared_bytes{vm="wc"}')! + series(text, 'hangar_vm_memory_template_private_bytes{vm="wc"}')!).toBeGreaterThan(0);
    expect(text).not.toContain('hangar_vm_memory_template_shared_bytes{vm="tsrc"}');
    const list: Vm[] = await d.api.vms.list();
    expect(list.map((v) => v.name).sort()).toEqual(['tsrc', 'wc']);
    expect(pageErrors).toEqual([]);
  }, 240_000);
});
