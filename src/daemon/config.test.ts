import { expect, it } from 'vitest';
import { resolveDaemonConfig } from './config.js';

it('uses defaults, then env, then flags', () => {
  const d = resolveDaemonConfig({}, {});
  expect(d).toMatchObject({ dataDir: '/var/lib/hangar', runDir: '/run/hangar', socket: '/run/hangar/hangar.sock', accel: 'auto', cacheDir: '/var/cache/hangar' });
  const e = resolveDaemonConfig({}, { HANGAR_DATA_DIR: '/tmp/x', HANGAR_ACCEL: 'tcg', HANGAR_SOCKET: '/tmp/x/s.sock' });
  expect(e).toMatchObject({ dataDir: '/tmp/x', runDir: '/tmp/x/run', logDir: '/tmp/x/logs', accel: 'tcg', socket: '/tmp/x/s.sock' });
  const f = resolveDaemonConfig({ accel: 'kvm', dataDir: '/tmp/y' }, { HANGAR_ACCEL: 'tcg', HANGAR_DATA_DIR: '/tmp/x' });
  expect(f).toMatchObject({ accel: 'kvm', dataDir: '/tmp/y' });
});

it('refuses a bad accelerator and an over-long socket path', () => {
  expect(() => resolveDaemonConfig({ accel: 'xen' }, {})).toThrow(/kvm, tcg or auto/);
  expect(() => resolveDaemonConfig({ socket: `/tmp/${'x'.repeat(120)}` }, {})).toThrow(/too long/);
});

it('metrics and log settings: defaults, env, flags, and refusals', () => {
  expect(resolveDaemonConfig({}, {})).toMatchObject({ metricsInterval: 5, metricsHistory: 3600, logFormat: 'json', logLevel: 'info' });
  expect(resolveDaemonConfig({}, { HANGAR_METRICS_INTERVAL: '0', HANGAR_LOG_FORMAT: 'pretty' })).toMatchObject({ metricsInterval: 0, logFormat: 'pretty' });
  expect(resolveDaemonConfig({ metricsInterval: '10', metricsHistory: '600', logLevel: 'debug' }, { HANGAR_METRICS_INTERVAL: '1' })).toMatchObject({ metricsInterval: 10, metricsHistory: 600, logLevel: 'debug' });
  expect(() => resolveDaemonConfig({ metricsInterval: 'fast' }, {})).toThrow(/--metrics-interval/);
  expect(() => resolveDaemonConfig({ metricsInterval: '0.1' }, {})).toThrow(/--metrics-interval/);
  expect(() => resolveDaemonConfig({ logFormat: 'xml' }, {})).toThrow(/json or pretty/);
  expect(() => resolveDaemonConfig({ logLevel: 'loud' }, {})).toThrow(/--log-level/);
});

it('TLS listeners: none by default; flags or HANGAR_LISTEN; cert and key together', () => {
  expect(resolveDaemonConfig({}, {}).listen).toEqual([]);
  expect(resolveDaemonConfig({ listen: ['127.0.0.1:8443', '[::1]:8443'] }, { HANGAR_LISTEN: '0.0.0.0:1' }).listen).toEqual([{ host: '127.0.0.1', port: 8443 }, { host: '::1', port: 8443 }]);
  expect(resolveDaemonConfig({}, { HANGAR_LISTEN: '0.0.0.0:8443,127.0.0.1:9443' }).listen).toHaveLength(2);
  expect(() => resolveDaemonConfig({ listen: ['localhost:8443'] }, {})).toThrow(/ADDRESS:PORT/);
  expect(resolveDaemonConfig({ tlsCert: 'c.pem', tlsKey: 'k.pem' }, {})).toMatchObject({ tlsCert: expect.stringMatching(/\/c\.pem$/), tlsKey: expect.stringMatching(/\/k\.pem$/) });
  expect(() => resolveDaemonConfig({ tlsCert: 'c.pem' }, {})).toThrow(/go together/);
});

it('reserved host memory and guest users: defaults, env, flags, refusals', () => {
  expect(resolveDaemonConfig({}, {})).toMatchObject({ reservedMemoryMiB: 512, guestUsers: true });
  expect(resolveDaemonConfig({}, { HANGAR_RESERVED_MEMORY: '2G', HANGAR_GUEST_USERS: '0' })).toMatchObject({ reservedMemoryMiB: 2048, guestUsers: false });
  expect(resolveDaemonConfig({ reservedMemory: '0', guestUsers: false }, { HANGAR_RESERVED_MEMORY: '2G' })).toMatchObject({ reservedMemoryMiB: 0, guestUsers: false });
  expect(() => resolveDaemonConfig({ reservedMemory: 'lots' }, {})).toThrow(/--reserved-memory/);
});

it('guest log caps: defaults 2M and 3, env, flags, and refusals (INVALID_SPEC, nothing else read)', () => {
  expect(resolveDaemonConfig({}, {})).toMatchObject({ logMaxSize: 2 * 1024 * 1024, logMaxBackups: 3 });
  expect(resolveDaemonConfig({}, { HANGAR_LOG_MAX_SIZE: '256K', HANGAR_LOG_MAX_BACKUPS: '2' })).toMatchObject({ logMaxSize: 256 * 1024, logMaxBackups: 2 });
  expect(resolveDaemonConfig({ logMaxSize: '1MiB', logMaxBackups: '0' }, { HANGAR_LOG_MAX_SIZE: '256K' })).toMatchObject({ logMaxSize: 1024 * 1024, logMaxBackups: 0 });
  expect(resolveDaemonConfig({ logMaxSize: '8192' }, {}).logMaxSize).toBe(8192);
  for (const bad of ['0', '1K', '2T', 'big', '1.5M', '-1M', '']) {
    expect(() => resolveDaemonConfig({ logMaxSize: bad }, {})).toThrow(expect.objectContaining({ code: 'INVALID_SPEC', message: expect.stringMatching(/--log-max-size/) }));
  }
  for (const bad of ['-1', '101', 'x', '1.5', '']) {
    expect(() => resolveDaemonConfig({ logMaxBackups: bad }, {})).toThrow(expect.objectContaining({ code: 'INVALID_SPEC', message: expect.stringMatching(/--log-max-backups/) }));
  }
});
