import { describe, expect, it } from 'vitest';
import { buildQemuArgv } from './argv.js';
import { latestGoldenVersion, loadGoldenCase } from './golden.js';

const source = loadGoldenCase(latestGoldenVersion(), 'file-memory-template-source');
const clone = loadGoldenCase(latestGoldenVersion(), 'warm-clone-first-run');

function objects(argv: string[]): Array<Record<string, unknown>> {
  return argv.flatMap((a, i) => (argv[i - 1] === '-object' || argv[i - 1] === '-device' ? [JSON.parse(a) as Record<string, unknown>] : []));
}

describe('file-backed memory and warm clones (argv)', () => {
  it('a template source: guest RAM is its memory file, shared, the machine\'s memory backend; a vmgenid device', () => {
    const argv = buildQemuArgv(source.spec, source.caps, source.paths, source.opts);
    expect(argv[argv.indexOf('-machine') + 1]).toContain('memory-backend=ram0');
    expect(objects(argv)).toContainEqual({ 'qom-type': 'memory-backend-file', id: 'ram0', size: source.spec.memoryMiB * 2 ** 20, 'mem-path': source.paths.memoryFile, share: true });
    expect(objects(argv)).toContainEqual({ driver: 'vmgenid', id: 'vmgenid0', guid: source.spec.vmgenid });
    expect(argv).not.toContain('-incoming');
  });

  it('a warm clone\'s first run: the template\'s file mapped privately, waiting for its state', () => {
    const argv = buildQemuArgv(clone.spec, clone.caps, clone.paths, clone.opts);
    const mem = objects(argv).find((o) => o['qom-type'] === 'memory-backend-file')!;
    expect(mem).toMatchObject({ id: 'ram0', 'mem-path': clone.opts!.warmMemory, share: false });
    expect(argv[argv.indexOf('-incoming') + 1]).toBe('defer');
    expect(objects(argv)).toContainEqual({ driver: 'vmgenid', id: 'vmgenid0', guid: clone.spec.vmgenid });
  });

  it('refuses file memory with virtiofs, hugepages or NUMA (MEMORY_BACKING_CONFLICT)', () => {
    for (const extra of [{ hugepages: { sizeKiB: 2048 } }, { shares: [{ tag: 'data', source: '/srv/data' }] }]) {
      expect(() => buildQemuArgv({ ...source.spec, ...extra }, source.caps, { ...source.paths, shareSockets: ['/run/hangar/fs0.sock'] })).toThrow(expect.objectContaining({ code: 'MEMORY_BACKING_CONFLICT' }));
    }
  });

  it('needs the memory file path from the daemon, and a GUID for vmgenid', () => {
    const { memoryFile: _drop, ...paths } = source.paths;
    expect(() => buildQemuArgv(source.spec, source.caps, paths)).toThrow(/memory file/);
    expect(() => buildQemuArgv({ ...source.spec, vmgenid: 'x,driver=evil' }, source.caps, source.paths)).toThrow(/not a GUID/);
  });
});
