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
