import { expect, it } from 'vitest';
import { consolePath, parseConsolePath } from './consoles.js';

it('maps console WebSocket paths to VMs and console types', () => {
  expect(parseConsolePath('/v1/vms/web1/console')).toEqual({ vm: 'web1', type: 'serial' });
  expect(parseConsolePath('/v1/vms/web1/vnc')).toEqual({ vm: 'web1', type: 'vnc' });
  expect(parseConsolePath('/v1/vms/web1/spice')).toEqual({ vm: 'web1', type: 'spice' });
  expect(parseConsolePath('/v1/vms/web1/logs')).toBeUndefined();
  expect(parseConsolePath('/v1/vms/%E0%A4%A/console')).toBeUndefined();
  expect(consolePath('vnc', 'a b')).toBe('/v1/vms/a%20b/vnc');
});
