import { mkdirSync, mkdtempSync as makeTemp, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/** Temporary directories of the test that runs, removed after it. */
const temps: string[] = [];
function mkdtempSync(prefix: string): string {
  const dir = makeTemp(prefix);
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});
import { checkUsbDevices, checkVsock, resolveShare } from './hw.js';

describe('host hardware checks', () => {
  it('finds USB devices by vendor:product and bus-port, and refuses absent ones clearly', async () => {
    const sys = mkdtempSync('/tmp/hw-sys-');
    const dev = join(sys, 'bus', 'usb', 'devices', '1-2.3');
    mkdirSync(dev, { recursive: true });
    mkdirSync(join(sys, 'bus', 'usb', 'devices', '1-2.3:1.0'));
    writeFileSync(join(dev, 'idVendor'), '046d\n');
    writeFileSync(join(dev, 'idProduct'), 'c52b\n');
    await expect(checkUsbDevices([{ vendorId: '046d', productId: 'c52b' }, { bus: 1, port: '2.3' }], { sysRoot: sys })).resolves.toBeUndefined();
    await expect(checkUsbDevices([{ vendorId: '1234', productId: '5678' }], { sysRoot: sys })).rejects.toMatchObject({ code: 'HOST_DEVICE_UNAVAILABLE', message: expect.stringContaining('1234:5678 is not plugged in') });
    await expect(checkUsbDevices([{ bus: 3, port: '1' }], { sysRoot: '/nonexistent' })).rejects.toMatchObject({ message: expect.stringContaining('no USB devices at all') });
  });

  it('refuses vsock without /dev/vhost-vsock', async () => {
    await expect(checkVsock({ devRoot: mkdtempSync('/tmp/hw-dev-') })).rejects.toMatchObject({ code: 'HOST_DEVICE_UNAVAILABLE', message: expect.stringContaining('vhost-vsock') });
  });

  it('keeps shares inside the allowed roots after resolving symlinks', async () => {
    const root = mkdtempSync('/tmp/hw-root-');
    const outside = mkdtempSync('/tmp/hw-out-');
    mkdirSync(join(root, 'data'));
    symlinkSync(outside, join(root, 'escape'));
    await expect(resolveShare({ tag: 'd', source: join(root, 'data') }, [root])).resolves.toEqual({ tag: 'd', source: join(root, 'data') });
    await expect(resolveShare({ tag: 'd', source: join(root, 'escape') }, [root])).rejects.toMatchObject({ code: 'SHARE_PATH_NOT_ALLOWED', message: expect.stringContaining(`really ${outside}`) });
    await expect(resolveShare({ tag: 'd', source: `${root}-sibling` }, [root])).rejects.toMatchObject({ code: 'INVALID_SPEC' });
    await expect(resolveShare({ tag: 'd', source: outside }, [root])).rejects.toMatchObject({ code: 'SHARE_PATH_NOT_ALLOWED' });
    await expect(resolveShare({ tag: 'd', source: join(root, 'data') }, [])).rejects.toMatchObject({ code: 'SHARE_PATH_NOT_ALLOWED', message: expect.stringContaining('--share-root') });
  });
});
