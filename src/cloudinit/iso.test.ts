import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSeedIso } from './iso.js';
import { renderConfigDrive, renderNoCloud } from './render.js';
import { fakeEd25519Key } from './test-keys.js';
import { seedArgv } from './argv.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-iso-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function volumeId(iso: string): string {
  const out = execFileSync('xorriso', ['-indev', iso, '-pvd_info'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const m = /^Volume Id\s*:\s*(.*)$/m.exec(out);
  return (m?.[1] ?? '').trim();
}

/** The label Linux (blkid, hence cloud-init) sees. */
function blkidLabel(iso: string): string {
  return execFileSync('blkid', ['-o', 'value', '-s', 'LABEL', iso]).toString().trim();
}

function extract(iso: string): Record<string, string> {
  const out = path.join(dir, `x-${path.basename(iso)}`);
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  const files: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files[path.relative(out, p)] = fs.readFileSync(p, 'utf8');
    }
  };
  walk(out);
  return files;
}

describe('buildSeedIso', () => {
  it('writes a NoCloud seed labelled cidata with the rendered files', async () => {
    const files = renderNoCloud({
      instanceId: 'i-1',
      hostname: 'web1',
      user: 'alice',
      sshKeys: [fakeEd25519Key()],
      networkConfig: 'version: 2\nethernets:\n  e:\n    dhcp4: true\n',
    });
    const iso = path.join(dir, 'seed.iso');
    await buildSeedIso(files, 'cidata', iso);
    expect(volumeId(iso)).toBe('cidata');
    expect(blkidLabel(iso)).toBe('cidata');
    expect(extract(iso)).toEqual(files);
    expect(fs.statSync(iso).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir).filter((n) => n !== 'seed.iso' && !n.startsWith('x-'))).toEqual([]); // no staging or tmp left
  });

  it('writes a config drive labelled config-2 with nested paths', async () => {
    const files = renderConfigDrive({ instanceId: 'i-2', hostname: 'win1', sshKeys: [fakeEd25519Key()], userData: '#cloud-config\nruncmd: [[echo, hi]]\n' });
    const iso = path.join(dir, 'config.iso');
    await buildSeedIso(files, 'config-2', iso, { mode: 0o640 });
    expect(volumeId(iso)).toBe('config-2');
    expect(blkidLabel(iso)).toBe('config-2');
    expect(extract(iso)).toEqual(files);
    expect(fs.statSync(iso).mode & 0o777).toBe(0o640);
  });

  it('replaces an existing seed atomically', async () => {
    const iso = path.join(dir, 'seed.iso');
    await buildSeedIso({ 'meta-data': 'instance-id: a\n', 'user-data': '#cloud-config\n' }, 'cidata', iso);
    await buildSeedIso({ 'meta-data': 'instance-id: b\n', 'user-data': '#cloud-config\n' }, 'cidata', iso);
    expect(extract(iso)['meta-data']).toBe('instance-id: b\n');
  });

  it('refuses unsafe paths and labels, and explains a missing xorriso', async () => {
    const iso = path.join(dir, 'bad.iso');
    await expect(buildSeedIso({ '../x': 'a' }, 'cidata', iso)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(buildSeedIso({ '/etc/passwd': 'a' }, 'cidata', iso)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(buildSeedIso({ 'a//b': 'a' }, 'cidata', iso)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(buildSeedIso({ a: 'a' }, 'CIDATA' as 'cidata', iso)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(buildSeedIso({}, 'cidata', iso)).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(buildSeedIso({ a: 'a' }, 'cidata', iso, { xorriso: '/nonexistent/xorriso' })).rejects.toThrow(/xorriso is not installed/);
    expect(fs.existsSync(iso)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('seedArgv', () => {
  it('attaches the ISO read-only as a virtio disk', () => {
    expect(seedArgv({ isoPath: '/run/hangar/vms/x/seed.iso' })).toEqual([
      '-blockdev', '{"driver":"file","filename":"/run/hangar/vms/x/seed.iso","node-name":"seedf","read-only":true}',
      '-blockdev', '{"driver":"raw","file":"seedf","node-name":"seed","read-only":true}',
      '-device', '{"driver":"virtio-blk-pci","id":"seed","drive":"seed"}',
    ]);
  });
});
