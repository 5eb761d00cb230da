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
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vm } from '../../src/contract/index.js';
import { TestDaemon, waitFor } from './harness.js';
import { metricValue, scrapeMetrics } from './metrics-scrape.js';
import { signedInUi } from './ui-browser.js';

let d: TestDaemon;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];
const CLONES = ['wc-1', 'wc-2'];
const scrape = async () => (await scrapeMetrics(d.socket)).text;

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
    await page.waitForSelector('dialog select[name=template] option[value=deb]', { state: 'attached' });
    expect(await page.textContent('dialog .template-summary')).toContain('made of tsrc');
    await page.fill('dialog input[name=name]', 'tsrc');
    await page.click('dialog button[type=submit]');
    const alert = await page.waitForSelector('dialog [role=alert]');
    expect(await alert.getAttribute('data-code')).toBe('VM_EXISTS');
    expect(await page.textContent('dialog label.invalid .field-error')).toContain('"tsrc" already exists');
    expect(await dialog.isVisible()).toBe(true);
  }, 60_000);

  it('makes two clones: busy while they start, then they are in the list, running, with their warm memory shown', async () => {
    await page.fill('dialog input[name=name]', 'wc');
    await page.fill('dialog input[name=count]', '2');
    const t0 = Date.now();
    await page.click('dialog button[type=submit]');
    // The busy state: the status line (ready so far, of how many) and a disabled submit button.
    expect(await (await page.waitForSelector('dialog [role=status]')).textContent()).toMatch(/Cloning 2 VMs from deb: [0-2] of 2 ready/);
    expect(await page.isDisabled('dialog button[type=submit]')).toBe(true);
    await page.waitForSelector('dialog', { state: 'detached', timeout: 180_000 });
    console.log(`web-ui-templates: dialog → 2 clones in the list in ${Date.now() - t0} ms`);
    for (const name of CLONES) await page.waitForSelector(`tr[data-vm="${name}"] [data-state="running"]`, { timeout: 10_000 });

    for (const name of CLONES) {
      const vm = await d.vm(name);
      expect(vm.state).toBe('running');
      expect(vm.template).toBe('deb');
      const w = vm.warmMemory!;
      console.log(`web-ui-templates: ${name}: ${w.sharedBytes} bytes shared with its sibling, ${w.privateBytes} its own, ${w.copiedBytes} written`);
      expect(w.template).toBe('deb');
      // Both clones run the same guest from the same memory file: the pages they both touched are shared.
      expect(w.sharedBytes).toBeGreaterThan(0);
      expect(w.copiedBytes).toBeLessThanOrEqual(w.privateBytes);
      expect(w.sharedBytes + w.privateBytes).toBeLessThanOrEqual(512 * 2 ** 20);
    }
    // A VM that is not a clone has none.
    expect((await d.vm('tsrc')).warmMemory).toBeUndefined();

    // The detail page shows the template and the warm memory next to the memory.
    await page.click('tr[data-vm="wc-1"] a:text("wc-1")');
    await page.waitForSelector('[data-field="Template"] dd:text("deb")');
    const shown = await page.textContent('[data-field="Warm memory"] dd');
    expect(shown).toMatch(/shared with other clones of deb, .* its own \(.* written\)/);

    // The same figures as Prometheus metrics (sampled every second here).
    const text = await waitFor('the warm memory metrics', async () => {
      const m = await scrape();
      return CLONES.every((n) => metricValue(m, `hangar_vm_memory_template_shared_bytes{vm="${n}"}`) !== undefined) ? m : undefined;
    }, 15_000, 500);
    for (const n of CLONES) {
      expect(metricValue(text, `hangar_vm_memory_template_shared_bytes{vm="${n}"}`)).toBeGreaterThan(0);
      expect(metricValue(text, `hangar_vm_memory_template_private_bytes{vm="${n}"}`)).toBeGreaterThan(0);
      expect(metricValue(text, `hangar_vm_memory_template_copied_bytes{vm="${n}"}`)).toBeGreaterThanOrEqual(0);
    }
    expect(text).not.toContain('hangar_vm_memory_template_shared_bytes{vm="tsrc"}');
    const list: Vm[] = await d.api.vms.list();
    expect(list.map((v) => v.name).sort()).toEqual(['tsrc', ...CLONES]);
    expect(pageErrors).toEqual([]);
  }, 240_000);
});
