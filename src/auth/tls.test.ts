import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateCertificate, wantedNames } from './tls.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the listener certificate', () => {
  it('is made self-signed at first start, key 0600, with SANs for the listen address, localhost, 127.0.0.1 and the host name', async () => {
    const tls = join(dir, 'tls');
    const m = await loadOrCreateCertificate({ dir: tls, listen: [{ host: '127.0.0.2', port: 8443 }], hostname: 'hv1.example.com' });
    expect(m.origin).toBe('generated');
    expect(statSync(join(tls, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(tls).mode & 0o777).toBe(0o700);
    const x = new X509Certificate(m.cert);
    expect(x.fingerprint256).toBe(m.fingerprint);
    expect(m.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    for (const ip of ['127.0.0.2', '127.0.0.1', '::1']) expect(x.checkIP(ip), ip).toBe(ip);
    for (const h of ['localhost', 'hv1.example.com']) expect(x.checkHost(h), h).toBe(h);
    expect(x.ca).toBe(false);
    expect(m.names.dns).toEqual(['localhost', 'hv1.example.com']);

    // Kept on the next start; re-made when a new listen address is not covered.
    const again = await loadOrCreateCertificate({ dir: tls, listen: [{ host: '127.0.0.2', port: 9000 }], hostname: 'hv1.example.com' });
    expect(again).toMatchObject({ origin: 'kept', fingerprint: m.fingerprint });
    const moved = await loadOrCreateCertificate({ dir: tls, listen: [{ host: '127.0.0.3', port: 9000 }], hostname: 'hv1.example.com' });
    expect(moved.origin).toBe('generated');
    expect(moved.fingerprint).not.toBe(m.fingerprint);
  });

  it('uses the operator\'s files, and refuses a key that is not the certificate\'s', async () => {
    const a = await loadOrCreateCertificate({ dir: join(dir, 'a'), listen: [], hostname: 'x' });
    const b = await loadOrCreateCertificate({ dir: join(dir, 'b'), listen: [], hostname: 'x' });
    writeFileSync(join(dir, 'cert.pem'), a.cert);
    writeFileSync(join(dir, 'key-a.pem'), a.key);
    writeFileSync(join(dir, 'key-b.pem'), b.key);
    const own = await loadOrCreateCertificate({ dir: join(dir, 'unused'), listen: [], certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key-a.pem') });
    expect(own).toMatchObject({ origin: 'files', fingerprint: a.fingerprint });
    await expect(loadOrCreateCertificate({ dir: join(dir, 'unused'), listen: [], certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key-b.pem') })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(loadOrCreateCertificate({ dir: join(dir, 'unused'), listen: [], certFile: join(dir, 'cert.pem') })).rejects.toThrow(/go together/);
  });

  it('leaves wildcard addresses and odd host names out of the required names', () => {
    expect(wantedNames([{ host: '0.0.0.0', port: 1 }, { host: '10.1.2.3', port: 1 }], 'bad_name')).toEqual({ dns: ['localhost'], ips: ['127.0.0.1', '::1', '10.1.2.3'] });
  });
});
