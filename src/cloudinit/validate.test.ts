import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { fakeEd25519Key, fakeKey } from './test-keys.js';
import { parseSshKeyFile, validateCloudInit, validateSshKey, type CloudInitInput } from './validate.js';

const base: CloudInitInput = { instanceId: 'i-0123' };

function errorOf(input: CloudInitInput): HangarError {
  try {
    validateCloudInit(input);
  } catch (e) {
    expect(e).toBeInstanceOf(HangarError);
    expect((e as HangarError).code).toBe('INVALID_SPEC');
    return e as HangarError;
  }
  throw new Error('expected validateCloudInit to throw');
}

describe('validateCloudInit', () => {
  it('accepts a full, valid input', () => {
    expect(() =>
      validateCloudInit({
        instanceId: 'b4c5d2e0-1f2a-4b3c-9d8e-7f6a5b4c3d2e',
        hostname: 'web1.example.com',
        user: 'alice',
        sshKeys: [fakeEd25519Key(), fakeKey('ecdsa-sha2-nistp256'), fakeKey('sk-ssh-ed25519@openssh.com')],
        passwordHash: '$6$abcdefgh$' + 'a'.repeat(86),
        userData: '#cloud-config\npackages: [nginx]\n',
        networkConfig: 'version: 2\nethernets:\n  eth0:\n    dhcp4: true\n',
      }),
    ).not.toThrow();
    expect(() => validateCloudInit({ ...base, userData: '#!/bin/sh\necho hi\n' })).not.toThrow();
    expect(() => validateCloudInit({ ...base, userData: '#cloud-config\n' })).not.toThrow();
    expect(() => validateCloudInit({ ...base, networkConfig: 'network:\n  version: 1\n  config:\n    - type: physical\n      name: eth0\n' })).not.toThrow();
  });

  it('says where user-data is not valid YAML', () => {
    const e = errorOf({ ...base, userData: '#cloud-config\npackages:\n  - a\n bad: [\n' });
    expect(e.message).toMatch(/^user-data is not valid YAML: line \d+, column \d+: /);
    const dup = errorOf({ ...base, userData: '#cloud-config\na: 1\na: 2\n' });
    expect(dup.message).toMatch(/^user-data is not valid YAML: line 3, column 1: Map keys must be unique/);
  });

  it('refuses user-data that is not a mapping, or has no #cloud-config / #! header', () => {
    expect(errorOf({ ...base, userData: '#cloud-config\n- a\n- b\n' }).message).toMatch(/user-data is not a YAML mapping/);
    expect(errorOf({ ...base, userData: '#cloud-config\njust a string\n' }).message).toMatch(/not a YAML mapping/);
    expect(errorOf({ ...base, userData: 'packages: [a]\n' }).message).toMatch(/must start with '#cloud-config'/);
    expect(errorOf({ ...base, userData: '#cloud-config\nusers: 5\n' }).message).toMatch(/users must be/);
    expect(errorOf({ ...base, userData: '#cloud-config\nusers:\n  - {groups: x}\n' }).message).toMatch(/users\[0\]/);
  });

  it('refuses bad network-config', () => {
    expect(errorOf({ ...base, networkConfig: 'version: 3\n' }).message).toMatch(/network-config must say version: 1 or version: 2/);
    expect(errorOf({ ...base, networkConfig: 'version: 2\nethernet:\n  eth0: {}\n' }).message).toMatch(/unknown key 'ethernet'/);
    expect(errorOf({ ...base, networkConfig: 'version: 1\n' }).message).toMatch(/needs a config: list/);
    expect(errorOf({ ...base, networkConfig: 'version: 2\n  x: [\n' }).message).toMatch(/^network-config is not valid YAML: line/);
    expect(errorOf({ ...base, networkConfig: '- a\n' }).message).toMatch(/not a YAML mapping/);
  });

  it('refuses inputs over 64 KiB', () => {
    const big = `#cloud-config\nruncmd:\n${'  - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n'.repeat(1100)}`;
    expect(Buffer.byteLength(big)).toBeGreaterThan(64 * 1024);
    expect(errorOf({ ...base, userData: big }).message).toMatch(/^user-data is \d+ bytes; at most 65536/);
    expect(errorOf({ ...base, networkConfig: `version: 2\n#${'x'.repeat(70_000)}\n` }).message).toMatch(/^network-config is \d+ bytes/);
    expect(errorOf({ ...base, sshKeys: Array.from({ length: 65 }, () => fakeEd25519Key()) }).message).toMatch(/at most 64 ssh keys/);
  });

  it('refuses bad ssh keys, naming which', () => {
    const good = fakeEd25519Key();
    expect(errorOf({ ...base, sshKeys: [good, 'ssh-ed25519 not-base64!'] }).message).toMatch(/^ssh key 2: the key data is not base64/);
    expect(errorOf({ ...base, sshKeys: ['ssh-dss AAAAB3NzaC1kc3M= x'] }).message).toMatch(/^ssh key 1 has unsupported type 'ssh-dss'/);
    // An ed25519 blob labelled as RSA.
    expect(errorOf({ ...base, sshKeys: [good.replace('ssh-ed25519', 'ssh-rsa')] }).message).toMatch(/not a ssh-rsa public key/);
    expect(errorOf({ ...base, sshKeys: [`${good}\nssh-ed25519 AAAA`] }).message).toMatch(/single line/);
    expect(errorOf({ ...base, sshKeys: ['-----BEGIN OPENSSH PRIVATE KEY-----'] }).message).toMatch(/private key/);
    expect(errorOf({ ...base, sshKeys: [''] }).message).toMatch(/ssh key 1 is empty/);
  });

  it('accepts real keys from ssh-keygen and parses a key file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ci-keys-'));
    try {
      const lines: string[] = [];
      for (const [t, bits] of [['ed25519', []], ['rsa', ['-b', '2048']], ['ecdsa', ['-b', '384']]] as const) {
        const f = path.join(dir, `id_${t}`);
        execFileSync('ssh-keygen', ['-q', '-t', t, ...bits, '-N', '', '-C', `me@${t}`, '-f', f]);
        const pub = fs.readFileSync(`${f}.pub`, 'utf8').trim();
        expect(validateSshKey(pub)).toBe(pub);
        lines.push(pub);
      }
      expect(parseSshKeyFile(`# my keys\n\n${lines.join('\n')}\n`)).toEqual(lines);
      expect(() => parseSshKeyFile('# nothing\n\n')).toThrow(/holds no public key/);
      expect(() => parseSshKeyFile(`${lines[0]}\ngarbage here\n`)).toThrow(/^ssh key file line 2 has unsupported type 'garbage'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad hostnames, users, hashes and instance ids', () => {
    expect(errorOf({ ...base, hostname: 'web_1' }).message).toMatch(/^hostname 'web_1' is not valid/);
    expect(errorOf({ ...base, hostname: '-web' }).message).toMatch(/^hostname/);
    expect(errorOf({ ...base, hostname: `${'a'.repeat(64)}.com` }).message).toMatch(/^hostname/);
    expect(errorOf({ ...base, hostname: 'a..b' }).message).toMatch(/^hostname/);
    expect(errorOf({ ...base, hostname: '' }).message).toMatch(/^hostname must not be empty/);
    expect(errorOf({ ...base, hostname: 'x'.repeat(254) }).message).toMatch(/longer than 253/);
    expect(errorOf({ ...base, user: 'Alice' }).message).toMatch(/^user 'Alice' is not a valid user name/);
    expect(errorOf({ ...base, user: 'root' }).message).toMatch(/system account/);
    expect(errorOf({ ...base, user: 'a b' }).message).toMatch(/^user/);
    expect(errorOf({ ...base, passwordHash: 'plaintext' }).message).toMatch(/^password hash is not a crypt\(3\) hash/);
    expect(errorOf({ ...base, passwordHash: '$6$salt$abc\nroot::0:0' }).message).toMatch(/^password hash/);
    expect(errorOf({ instanceId: '' }).message).toMatch(/^instance-id/);
    expect(errorOf({ instanceId: 'a/b' }).message).toMatch(/^instance-id/);
  });
});
