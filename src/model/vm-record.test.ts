import { describe, expect, it } from 'vitest';
import { joinVmRecord, splitVmRecord, VM_STATUS_KEYS, type VmRecord } from './vm-record.js';

const full: VmRecord = {
  id: 'a1b2c3d4e5f6', name: 'web', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-02T00:00:00.000Z',
  spec: { name: 'web', machine: 'q35', cpuModel: 'max', cpus: 2, memoryMiB: 512, boot: { kind: 'disk' }, disks: [], nics: [], balloon: true, rng: true, vnc: true },
  stoppedByUser: true,
  state: 'running', stateReason: 'adopted',
  runtime: { pid: 42, pidStartTime: '123', qmpSocket: '/q', serialSocket: '/s', startedAt: '2026-01-02T00:00:00.000Z', accel: 'tcg' },
  restartHistory: ['2026-01-01T12:00:00.000Z'], guestUid: 2100001,
  migration: { id: 'm1', role: 'outgoing', peer: 'b', startedAt: '2026-01-02T00:00:00.000Z' },
  migratedTo: { peer: 'b', url: 'https://b', at: '2026-01-02T00:00:00.000Z' },
  liveRestore: { backup: '20260102T000000Z-abcdef', repo: 'main', state: 'copying', dir: '/run/hangar/live-restore/x', startedAt: '2026-01-02T00:00:00.000Z' },
  restoreAtStart: { at: '2026-01-02T00:00:00.000Z' },
  lastExit: { code: 0, signal: null, at: '2026-01-01T00:00:00.000Z' }, node: 'n1',
  haPending: { reason: 'r', at: '2026-01-01T00:00:00.000Z' }, lastMove: { from: 'n2', to: 'n1', reason: 'r', at: '2026-01-01T00:00:00.000Z' },
  placed: { node: 'n1', at: '2026-01-01T00:00:00.000Z', score: 0.5, reasons: ['2 of 4 vCPUs free'], others: [] },
  group: 'web',
  revision: 7, desiredRevision: 5, statusRevision: 7,
};

describe('VM record halves', () => {
  it('puts what the user asked for in desired and what the node found in status', () => {
    const { desired, status } = splitVmRecord(full);
    expect(Object.keys(desired).sort()).toEqual(['createdAt', 'group', 'id', 'name', 'spec', 'stoppedByUser']);
    expect(Object.keys(status).sort()).toEqual([...VM_STATUS_KEYS].sort());
    expect(status).toMatchObject({ state: 'running', guestUid: 2100001, runtime: { pid: 42 } });
  });

  it('keeps a field nobody classified, in desired', () => {
    const { desired, status } = splitVmRecord({ ...full, firmware: 'uefi' } as VmRecord);
    expect(desired).toHaveProperty('firmware', 'uefi');
    expect(status).not.toHaveProperty('firmware');
  });

  it('leaves out absent fields and what the store derives', () => {
    const { desired, status } = splitVmRecord({ id: 'x', name: 'x', spec: full.spec, state: 'stopped', stateReason: undefined, createdAt: 'c', updatedAt: 'u' });
    expect(desired).toEqual({ id: 'x', name: 'x', spec: full.spec, createdAt: 'c' });
    expect(status).toEqual({ state: 'stopped' });
  });

  it('joins two halves back into the view, with the later updatedAt and revision', () => {
    const { desired, status } = splitVmRecord(full);
    const joined = joinVmRecord({ ...desired, updatedAt: '2026-01-01T00:00:00.000Z', revision: 5 }, { ...status, updatedAt: '2026-01-02T00:00:00.000Z', revision: 7 });
    expect(joined).toEqual(full);
  });
});
