/**
 * The web UI's backups (Debian's chromium, headless, against the real daemon and the tiny
 * guest): a repository made on the Backups page, a backup taken from the VM's Backups tab
 * (an operation followed to the end), listed, and restored to a new VM from the page; a
 * backup schedule made on that tab (a bad period refused and shown), listed, and deleted.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, waitFor } from './harness.js';
import { signedInUi } from './ui-browser.js';

let d: TestDaemon;
let base: string;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  d = await TestDaemon.start({ args: ['--listen', '127.0.0.1:0'] });
  const r = await d.cli(['vm', 'create', 'bu', '--memory', '128M', '--disk-size', '16M', '--start']);
  expect(r.code, r.stderr).toBe(0);
  ({ browser, page, base, pageErrors } = await signedInUi(d));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await d?.cleanup();
});

describe('backups in the web UI', () => {
  it('makes a repository on the Backups page', async () => {
    await page.click('nav a[href="#/backups"]');
    await page.waitForSelector('h1:text("Backup repositories")');
    await page.fill('input[name=repo-name]', 'ui');
    await page.fill('input[name=repo-path]', join(d.dir, 'ui-repo'));
    await page.click('button:text("Create repository")');
    await page.waitForSelector('tr[data-repo=ui]');
    expect((await d.api.backups.repos()).map((r) => r.name)).toEqual(['ui']);
  }, 30_000);

  it('backs the VM up from its Backups tab and restores it to a new VM', async () => {
    await page.goto(`${base}/#/vms/bu/backups`);
    await page.waitForSelector('button:text("Back up now")');
    await page.click('button:text("Back up now")');
    const row = await page.waitForSelector('tr[data-backup]', { timeout: 60_000 });
    const id = await row.getAttribute('data-backup');
    expect((await d.api.backups.list({ vm: 'bu' })).map((b) => b.id)).toEqual([id]);
    expect(await row.textContent()).toContain('full');
    page.once('dialog', (dlg) => void dlg.accept('bu-copy'));
    await page.click(`tr[data-backup="${id}"] button:text("Restore…")`);
    await waitFor('the restored VM', async () => (await d.api.vms.list()).some((v) => v.name === 'bu-copy'), 60_000, 200);
    expect((await d.vm('bu-copy')).state).toBe('stopped');
    await page.click('nav a[href="#/backups"]');
    await page.click('tr[data-repo=ui] button:text("Verify")');
    await page.waitForSelector('[data-repo-message]:text-matches("all backups intact")');
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('makes, lists and deletes a backup schedule on the VM\'s Backups tab', async () => {
    await page.goto(`${base}/#/vms/bu/backups`);
    await page.waitForSelector('.backup-schedules :text("No backup schedule.")');
    // A bad period: refused by the daemon, its error shown, nothing made.
    await page.fill('input[name=schedule-every]', '5x');
    await page.click('button:text("Create schedule")');
    expect(await (await page.waitForSelector('.backup-schedules [role=alert]')).getAttribute('data-code')).toBe('INVALID_SPEC');
    expect(await d.api.backups.schedules()).toEqual([]);
    await page.fill('input[name=schedule-every]', '6h');
    await page.fill('input[name=schedule-at]', '02:00');
    await page.selectOption('select[name=schedule-repo]', 'ui');
    await page.fill('input[name=schedule-keepLast]', '3');
    await page.fill('input[name=schedule-keepDaily]', '7');
    await page.click('button:text("Create schedule")');
    const row = await page.waitForSelector('tr[data-schedule=bu]');
    expect(await page.$('.backup-schedules [role=alert]')).toBeNull();
    const text = (await row.textContent())!;
    expect(text).toContain('6h at 02:00 UTC');
    expect(text).toContain('last 3, daily 7');
    expect(await row.$eval('[data-last-run]', (e) => e.getAttribute('data-last-run'))).toBe('none');
    const [s] = await d.api.backups.schedules();
    expect(s).toMatchObject({ vm: 'bu', repo: 'ui', every: '6h', at: '02:00', keepLast: 3, keepDaily: 7 });
    expect(s!.keepWeekly).toBeUndefined();
    expect(['02', '08', '14', '20']).toContain(s!.nextRunAt.slice(11, 13));
    // The form is gone while the VM has a schedule (one per VM); a dismissed confirm deletes nothing.
    expect(await page.$('button:text("Create schedule")')).toBeNull();
    page.once('dialog', (dlg) => void dlg.dismiss());
    await page.click('tr[data-schedule=bu] button:text("Delete")');
    expect(await d.api.backups.schedules()).toHaveLength(1);
    page.once('dialog', (dlg) => void dlg.accept());
    await page.click('tr[data-schedule=bu] button:text("Delete")');
    await page.waitForSelector('.backup-schedules :text("No backup schedule.")');
    expect(await d.api.backups.schedules()).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
