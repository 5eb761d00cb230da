import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { escapeValue, parseVvFile, renderVvFile, spiceSubject, unescapeValue } from './vv-file.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nAbC+/=\n-----END CERTIFICATE-----\n';

describe('remote-viewer connection files', () => {
  it('writes the [virt-viewer] group remote-viewer reads', () => {
    const text = renderVvFile({ type: 'spice', host: '127.0.0.1', port: 5930, password: 'pw', title: 'web1 (Hangar)', deleteThisFile: true });
    expect(text).toBe('[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=5930\npassword=pw\ntitle=web1 (Hangar)\ndelete-this-file=1\n');
  });

  it('puts a PEM certificate on one line with \\n escapes, and reads it back', () => {
    const text = renderVvFile({ type: 'spice', host: 'hv1.example.com', tlsPort: 61000, ca: PEM, hostSubject: 'O=Hangar,CN=hv1' });
    const lines = text.split('\n');
    expect(lines).toContain('ca=-----BEGIN CERTIFICATE-----\\nMIIBszCCAVmgAwIBAgIU\\nAbC+/=\\n-----END CERTIFICATE-----\\n');
    expect(lines).toContain('tls-port=61000');
    expect(lines.some((l) => l.startsWith('port='))).toBe(false);
    expect(parseVvFile(text)).toEqual({ type: 'spice', host: 'hv1.example.com', 'tls-port': '61000', ca: PEM, 'host-subject': 'O=Hangar,CN=hv1' });
  });

  it('escapes like a GLib key file and round-trips', () => {
    for (const v of ['plain', 'back\\slash', ' leading space', 'tab\there', 'cr\rlf\n', 'a=b [x]', 'é ü']) {
      expect(unescapeValue(escapeValue(v))).toBe(v);
      expect(escapeValue(v)).not.toMatch(/[\n\r\t]/);
    }
    expect(escapeValue(' x')).toBe('\\sx');
  });

  it('cannot be made to hold another key or group: a newline in a value stays inside it', () => {
    const text = renderVvFile({ type: 'spice', host: 'h', port: 1, title: 'evil\npassword=x\n[other]' });
    expect(text.split('\n').filter((l) => l.startsWith('password='))).toEqual([]);
    expect(parseVvFile(text).title).toBe('evil\npassword=x\n[other]');
  });

  it('refuses control characters, a missing port and bad ports', () => {
    expect(() => renderVvFile({ type: 'spice', host: 'h\u0000', port: 1 })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(() => renderVvFile({ type: 'spice', host: 'h' })).toThrow(/port/);
    expect(() => renderVvFile({ type: 'spice', host: 'h', port: 0 })).toThrow(/port/);
    expect(() => renderVvFile({ type: 'spice', host: 'h', tlsPort: 70000 })).toThrow(/port/);
  });

  it('parses only the [virt-viewer] group, skipping comments and other groups', () => {
    const parsed = parseVvFile('# comment\n[other]\nhost=no\n[virt-viewer]\r\ntype=spice\r\nhost = h \r\n\n[x-extra]\nport=9\n');
    expect(parsed).toEqual({ type: 'spice', host: 'h ' });
  });

  it('writes a certificate subject in SPICE\'s host-subject form', () => {
    expect(spiceSubject('O=Hangar\nCN=hv1')).toBe('O=Hangar,CN=hv1');
    expect(spiceSubject('O=A, Inc.\nCN=h')).toBe('O=A\\, Inc.,CN=h');
    // As Node reads a real certificate's subject.
    const x = new X509Certificate(SELF_SIGNED);
    expect(spiceSubject(x.subject)).toBe('O=Hangar,CN=localhost');
  });
});

// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /O=Hangar/CN=localhost -days 3650
const SELF_SIGNED = `-----BEGIN CERTIFICATE-----
MIIBnzCCAUWgAwIBAgIUSoNOPmTDacPrQY1zliECBLaUHYowCgYIKoZIzj0EAwIw
JTEPMA0GA1UECgwGSGFuZ2FyMRIwEAYDVQQDDAlsb2NhbGhvc3QwHhcNMjYxMTI2
MDY1NTU2WhcNMzYxMTIzMDY1NTU2WjAlMQ8wDQYDVQQKDAZIYW5nYXIxEjAQBgNV
BAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEyk9KaXFxZ6
XD5JwuceGZGnKRlZ6mRU9TSDYzD9vN2FnwSpWneFUSrM5BISG2XfpuVMU44pm3PC
BUFqFXpGvRWjUzBRMB0GA1UdDgQWBBRpU7otAbZ3tTUcr8mWiakkyWbA8DAfBgNV
HSMEGDAWgBRpU7otAbZ3tTUcr8mWiakkyWbA8DAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0gAMEUCIQDJMEmMHwGF9Mp2cKwITRVBXSJVkK9cS5QWHXmMlowI
RQIgSvjydyhxosa+TO7YOZFM9fg1R1B5qNTf++QE7g2FtOI=
-----END CERTIFICATE-----
`;
