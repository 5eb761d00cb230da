/**
 * The web UI tests' browser: Debian's chromium (headless, no sandbox) on a daemon's TLS
 * listener, signed in with an admin API token, its page errors collected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT, type TestDaemon } from './harness.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface UiSession {
  browser: Browser;
  page: Page;
  /** https://ADDRESS:PORT of the daemon's first TLS listener. */
  base: string;
  /** Uncaught errors of the page (a test expects none). */
  pageErrors: string[];
}

/** Opens the web UI of `d` (started with --listen) and signs in with a new admin token. */
export async function signedInUi(d: TestDaemon): Promise<UiSession> {
  if (!existsSync(join(ROOT, 'ui', 'dist', 'index.html'))) throw new Error('The web UI is not built: run scripts/setup, or `npm ci && npm run build` in ui/.');
  const host = await d.api.call<{ tls?: { listen: string[] } }>('GET', '/v1/host');
  const base = `https://${host.tls!.listen[0]}`;
  const t = await d.cli(['token', 'create', 'ui-admin', '--role', 'admin']);
  expect(t.code, t.stderr).toBe(0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(`${base}/`);
  await page.fill('input[name=token]', t.stdout.trim());
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Dashboard")');
  return { browser, page, base, pageErrors };
}
