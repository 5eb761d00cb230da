import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpioArchive, normalizeCpioPath, parseNewc, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from './cpio.js';

const haveCpio = spawnSync('cpio', ['--version'], { stdio: 'ignore' }).status === 0;

/** Run a tool with the archive on stdin (argv array, no shell). */
function runWithInput(cmd: string, args: string[], input: Buffer, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

function sample(): CpioArchive {
  const a = new CpioArchive(1_700_000_000);
  a.dir('etc');
  a.file('etc/hostname', 'tiny\n');
  a.file('/bin/busybox', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 2, 3]), 0o755); // leading slash is stripped
  a.symlink('bin/sh', 'busybox');
  a.charDevice('dev/console', 5, 1, 0o600);
  a.file('lib/modules/6.1.0/kernel/drivers/x.ko', Buffer.alloc(4096, 0xab)); // parents created implicitly
  a.file('empty', '');
  a.file('odd-name_1', 'abc'); // sizes and name lengths that need padding
  a.dir('tmp', 0o1777);
  return a;
}

describe('newc cpio writer', () => {
  it('normalises paths and rejects bad ones', () => {
    expect(normalizeCpioPath('/a//b/./c')).toBe('a/b/c');
    expect(() => normalizeCpioPath('a/../b')).toThrow();
    expect(() => normalizeCpioPath('/')).toThrow();
    expect(() => normalizeCpioPath('a\0b')).toThrow();
  });

  it('rejects duplicates and files used as directories', () => {
    const a = new CpioArchive();
    a.file('x', '1');
    expect(() => a.file('x', '2')).toThrow(/duplicate/);
    expect(() => a.file('x/y', '3')).toThrow(/not a directory/);
  });

  it('creates parent directories before their children', () => {
    const names = sample().names;
    for (const [i, n] of names.entries()) {
      if (!n.includes('/')) continue;
      const parentIndex = names.indexOf(n.slice(0, n.lastIndexOf('/')));
      expect(parentIndex).toBeGreaterThanOrEqual(0);
      expect(parentIndex).toBeLessThan(i);
    }
  });

  it('round-trips through the parser with 4-byte alignment and a trailer', () => {
    const buf = sample().toBuffer();
    expect(buf.length % 4).toBe(0);
    expect(buf.subarray(0, 6).toString()).toBe('070701');
    expect(buf.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
    // Walk the headers independently of the parser: each starts 4-byte aligned.
    let off = 0;
    let headers = 0;
    for (;;) {
      expect(off % 4).toBe(0);
      expect(buf.toString('ascii', off, off + 6)).toBe('070701');
      headers++;
      const size = parseInt(buf.toString('ascii', off + 54, off + 62), 16);
      const namesize = parseInt(buf.toString('ascii', off + 94, off + 102), 16);
      const name = buf.toString('ascii', off + 110, off + 110 + namesize - 1);
      const dataStart = Math.ceil((off + 110 + namesize) / 4) * 4;
      off = Math.ceil((dataStart + size) / 4) * 4;
      if (name === 'TRAILER!!!') break;
    }
    expect(off).toBe(buf.length);
    expect(headers).toBe(sample().names.length + 1);

    const entries = parseNewc(buf);
    const by = new Map(entries.map((e) => [e.name, e]));
    expect(entries.map((e) => e.name)).toEqual(sample().names);
    expect(by.get('etc/hostname')?.data.toString()).toBe('tiny\n');
    expect(by.get('etc/hostname')?.mode).toBe(S_IFREG | 0o644);
    expect(by.get('bin/busybox')?.mode).toBe(S_IFREG | 0o755);
    expect(by.get('bin/sh')).toMatchObject({ type: 'symlink', mode: S_IFLNK | 0o777 });
    expect(by.get('bin/sh')?.data.toString()).toBe('busybox');
    expect(by.get('dev/console')).toMatchObject({ type: 'chardev', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 });
    expect(by.get('lib/modules')).toMatchObject({ type: 'dir', mode: S_IFDIR | 0o755, nlink: 2 });
    expect(by.get('tmp')?.mode).toBe(S_IFDIR | 0o1777);
    expect(by.get('lib/modules/6.1.0/kernel/drivers/x.ko')?.data.equals(Buffer.alloc(4096, 0xab))).toBe(true);
    expect(by.get('empty')?.data.length).toBe(0);
    for (const e of entries) {
      expect(e.uid).toBe(0);
      expect(e.gid).toBe(0);
      expect(e.mtime).toBe(1_700_000_000);
    }
  });

  it('is deterministic', () => {
    expect(sample().toBuffer().equals(sample().toBuffer())).toBe(true);
  });

  it('rejects garbage in the parser', () => {
    expect(() => parseNewc(Buffer.from('hello world'))).toThrow();
    const buf = sample().toBuffer();
    expect(() => parseNewc(buf.subarray(0, buf.length - 200))).toThrow();
  });

  describe.skipIf(!haveCpio)('with GNU cpio', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'hangar-cpio-test-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('lists the gzip-compressed archive with `cpio -t`', async () => {
      const gz = gzipSync(sample().toBuffer());
      const listing = await runWithInput('cpio', ['-t', '--quiet'], gunzipSync(gz));
      expect(listing.trim().split('\n')).toEqual(sample().names);
      const verbose = await runWithInput('cpio', ['-tv', '--quiet'], gunzipSync(gz));
      expect(verbose).toMatch(/^crw-------.* 5, +1 .*dev\/console$/m);
      expect(verbose).toMatch(/^lrwxrwxrwx.*bin\/sh -> busybox$/m);
    });

    it('extracts regular files, directories and symlinks with `cpio -i`', async () => {
      const a = new CpioArchive(1_700_000_000);
      a.file('etc/hostname', 'tiny\n').symlink('bin/sh', 'busybox').file('bin/busybox', 'x', 0o755).file('d/e/f', 'deep');
      await runWithInput('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], a.toBuffer(), dir);
      expect(await readFile(path.join(dir, 'etc/hostname'), 'utf8')).toBe('tiny\n');
      expect(await readFile(path.join(dir, 'd/e/f'), 'utf8')).toBe('deep');
      expect(await readlink(path.join(dir, 'bin/sh'))).toBe('busybox');
      expect((await stat(path.join(dir, 'bin/busybox'))).mode & 0o777).toBe(0o755);
    });
  });
});
