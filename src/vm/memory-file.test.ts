import { describe, expect, it } from 'vitest';
import type { VmPaths, VmSpec } from '../model/spec.js';
import { applyMemoryBacking, withMemoryFile } from './memory-file.js';

const paths = { qmpSocket: '/run/hangar/vms/ab/qmp.sock' } as VmPaths;

describe('file-backed guest memory', () => {
  it('puts a file-backed VM\'s RAM in the memory root, named by its id; others get none', () => {
    expect(withMemoryFile(paths, { memoryBacking: 'file' }, '/var/lib/hangar/memory', 'ab12').memoryFile).toBe('/var/lib/hangar/memory/ab12.ram');
    expect(withMemoryFile(paths, {}, '/var/lib/hangar/memory', 'ab12').memoryFile).toBeUndefined();
  });

  it('vm create --memory-backing file sets the field and a vmgenid; refused with hugepages or shares', () => {
    const spec = { name: 'a', machine: 'q35' } as VmSpec;
    applyMemoryBacking(spec, 'file');
    expect(spec.memoryBacking).toBe('file');
    expect(spec.vmgenid).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => applyMemoryBacking({ name: 'b', machine: 'q35', hugepages: { sizeKiB: 2048 } } as VmSpec, 'file')).toThrow(expect.objectContaining({ code: 'MEMORY_BACKING_CONFLICT' }));
    expect(() => applyMemoryBacking({ name: 'c', machine: 'q35', shares: [{ tag: 't', source: '/srv' }] } as VmSpec, 'file')).toThrow(expect.objectContaining({ code: 'MEMORY_BACKING_CONFLICT' }));
    expect(() => applyMemoryBacking({ name: 'd', machine: 'q35' } as VmSpec, 'memfd')).toThrow(/not one of: file/);
  });
});
