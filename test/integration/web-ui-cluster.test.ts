/**
 * The web UI's cluster views (Debian's chromium, headless, against real daemons and a real
 * etcd): on a single host the Nodes page says how to make a cluster and the VM list has no
 * node column; after `cluster init` (n1) and `cluster add`/`join` (n2) the same page, still
 * open, turns into the node table (it re-reads on a timer), both nodes online, and the VM
 * list and a VM's overview show which node holds each VM. No guest is started.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEtcd, type TestEtcd } from '../../src/etcd/test-etcd.js';
import { TestDaemon } from './harness.js';
import { signedInUi } from './ui-browser.js';

let etcd: TestEtcd;
let n1: TestDaemon;
let n2: TestDaemon;
let browser: Browser;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  [etcd, n1, n2] = await Promise.all([
    startEtcd(),
    freePort().then((p) => TestDaemon.start({ args: ['--listen', `127.0.0.1:${p}`] })),
    freePort().then((p) => TestDaemon.start({ args: ['--listen', `127.0.0.1:${p}`] })),
  ]);
  const r = await n1.cli(['vm', 'create', 'on-n1', '--memory', '128M']);
  expect(r.code, r.stderr).toBe(0);
  ({ browser, page, pageErrors } = await signedInUi(n1));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  // The joined node first: it uses the first node's pool records (their paths are in n1's
  // data dir), and starting it again after n1's cleanup would make that dir anew.
  await n2?.cleanup();
  await n1?.cleanup();
  await etcd?.stop();
});

describe('the cluster in the web UI', () => {
  it('on a single host: the Nodes page explains how to make a cluster; the VM list has no node column', async () => {
    await page.click('nav a[href="#/nodes"]');
    await page.waitForSelector('h1:text("Nodes")');
    const text = await (await page.waitForSelector('[data-cluster=single]')).textContent();
    expect(text).toContain('This host is not in a cluster');
    expect(text).toContain('hangar cluster init --etcd URL');
    expect(await page.$('table.nodes')).toBeNull();
    expect(await page.$('[role=alert]')).toBeNull();
    await page.click('nav a[href="#/vms"]');
    await page.waitForSelector('tr[data-vm=on-n1]');
    expect(await page.$$eval('table.vms th', (ths) => ths.map((th) => th.textContent))).not.toContain('node');
    expect(pageErrors).toEqual([]);
  }, 20_000);

  it('in a cluster: both nodes online with their allocation, and each VM with its node', async () => {
    // The Nodes page stays open through init and join: it follows on its own.
    await page.click('nav a[href="#/nodes"]');
    await page.waitForSelector('[data-cluster=single]');
    const init = await n1.cli(['cluster', 'init', '--etcd', etcd.endpoints.join(','), '--name', 'n1', '--lease-ttl', '3']);
    expect(init.code, init.stderr).toBe(0);
    const add = await n1.cli(['cluster', 'add', 'n2']);
    expect(add.code, add.stderr).toBe(0);
    const join = await n2.cli(['cluster', 'join', add.stdout.trim()]);
    expect(join.code, join.stderr).toBe(0);
    const c = await n2.cli(['vm', 'create', 'on-n2', '--memory', '128M']);
    expect(c.code, c.stderr).toBe(0);

    // Until the page's next read after the VM was made, n2's row may show it without the VM.
    await page.waitForSelector('tr[data-node=n2][data-state=online] td:nth-child(6):text-is("0 / 1")', { timeout: 10_000 });
    await page.waitForSelector('tr[data-node=n1][data-state=online]');
    const header = (await page.textContent('[data-cluster=cluster]'))!;
    const status = await n1.api.call<{ clusterId: string }>('GET', '/v1/cluster');
    expect(header).toContain('n1');
    expect(header).toContain(status.clusterId);
    expect(header).toContain(etcd.endpoints[0]);
    expect(await page.getAttribute('[data-field=connected]', 'data-connected')).toBe('true');
    expect(await page.$$eval('tr[data-node]', (rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual(['n1', 'n2']);
    const cells = async (node: string) => page.$$eval(`tr[data-node=${node}] td`, (tds) => tds.map((td) => td.textContent ?? ''));
    const [name1, state1, addr1, , , vms1, , lease1] = await cells('n1');
    expect(name1).toContain('this node');
    expect(state1).toBe('online');
    expect(addr1).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(vms1).toBe('0 / 1');
    expect(lease1).toMatch(/^\d+ s \/ 3 s$/);
    const [, , , cpus2, mem2, vms2] = await cells('n2');
    expect(cpus2).toMatch(/^0 \/ \d+$/);
    expect(mem2).toMatch(/^0 MiB \/ /);
    expect(vms2).toBe('0 / 1');

    // The VM list shows the node column now (read afresh: n2's VM was made on n2).
    await page.click('nav a[href="#/vms"]');
    await page.waitForSelector('tr[data-vm=on-n2]');
    expect(await page.$$eval('table.vms th', (ths) => ths.map((th) => th.textContent))).toContain('node');
    expect(await page.textContent('tr[data-vm=on-n2] td[data-field=node]')).toBe('n2');
    expect(await page.textContent('tr[data-vm=on-n1] td[data-field=node]')).toBe('n1');
    await page.click('tr[data-vm=on-n2] a');
    expect(await (await page.waitForSelector('[data-field=Node] dd')).textContent()).toBe('n2');
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('Evacuate moves a node\'s VMs away (one line each) and Restore brings them back', async () => {
    page.on('dialog', (d) => void d.accept());
    await page.click('nav a[href="#/nodes"]');
    await page.click('tr[data-node=n1] button[data-action=evacuate]');
    await page.waitForSelector('[data-operation="node.evacuate"][data-state=succeeded] tr[data-vm=on-n1][data-outcome=moved]', { timeout: 20_000 });
    expect(await n1.vm('on-n1')).toMatchObject({ node: 'n2', lastMove: { reason: 'evacuation' } });
    await page.waitForSelector('tr[data-node=n1] [data-field=evacuation]:text("evacuated")', { timeout: 10_000 });
    await page.click('tr[data-node=n1] button[data-action=restore]');
    await page.waitForSelector('[data-operation="node.restore"][data-state=succeeded] tr[data-vm=on-n1][data-outcome=moved]', { timeout: 20_000 });
    expect((await n1.vm('on-n1')).node).toBe('n1');
    await page.waitForSelector('tr[data-node=n1] button[data-action=evacuate]', { timeout: 10_000 });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

