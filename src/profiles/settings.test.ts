import { describe, expect, it } from 'vitest';
import { checkProfileSettings, instanceType, mergeSettings, patchSettings, recordOwn, settingsForChange } from './settings.js';

describe('profile settings', () => {
  it('are checked and normalized; unknown keys and bad values are refused', () => {
    expect(checkProfileSettings({ cpus: 2, memory: '1G', cpuLimit: '150%', labels: { tier: 'web' }, diskBus: 'sata' })).toEqual({ cpus: 2, memory: 1024, cpuLimit: 150, labels: { tier: 'web' }, diskBus: 'sata' });
    expect(() => checkProfileSettings({ cpu: 2 })).toThrow(/not a profile setting/);
    expect(() => checkProfileSettings({ cpus: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
    expect(() => checkProfileSettings({ diskBus: 'scsi' })).toThrow(/diskBus must be one of/);
    expect(() => checkProfileSettings({ cpus: 4, maxCpus: 2 })).toThrow(/maxCpus/);
    expect(() => checkProfileSettings({ labels: { 'Bad Key': 'x' } })).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
  });

  it('patch: a value sets, null removes', () => {
    expect(patchSettings({ cpus: 2, memory: 512 }, { cpus: null, memory: '1G', nicModel: 'e1000e' })).toEqual({ memory: 1024, nicModel: 'e1000e' });
    expect(() => patchSettings({}, { nope: null })).toThrow(/not a profile setting/);
  });

  it('merge in order, later winning, labels key by key', () => {
    expect(mergeSettings([{ cpus: 1, memory: 256, labels: { a: '1', b: '1' } }, { memory: 512, labels: { b: '2' } }, { cpus: 4 }])).toEqual({ cpus: 4, memory: 512, labels: { a: '1', b: '2' } });
  });

  it('a change of merged values becomes vm set settings; create-only keys are listed apart', () => {
    const r = settingsForChange({ cpus: 1, memory: 256, labels: { a: '1', b: '1' }, cpuModel: 'max' }, { cpus: 2, memory: 256, labels: { a: '2' }, cpuModel: 'host', cpuLimit: 50 });
    expect(r.settings).toEqual({ cpus: 2, cpuLimit: 50, labels: ['b-', 'a=2'] });
    expect(r.createOnly).toEqual(['cpuModel']);
    // A key no layer gives any more stays as the VM has it; labels that layer gave go.
    expect(settingsForChange({ memory: 512, cpuWeight: 200, ha: true, labels: { a: '1' } }, {}).settings).toEqual({ labels: ['a-'] });
    expect(settingsForChange({ ha: true, haPriority: 1 }, { ha: true, haPriority: 5 }).settings).toEqual({ haPriority: 5 });
    expect(settingsForChange({ cpus: 2 }, { cpus: 2 })).toEqual({ settings: {}, createOnly: [] });
  });

  it('vm set makes the keys it names the VM\'s own', () => {
    expect(recordOwn({ labels: { a: '1' } }, { cpus: 3, memory: '1G', cpuLimit: null, labels: ['b=2', 'a-'] })).toEqual({ cpus: 3, memory: 1024, labels: { b: '2' } });
  });

  it('instance types: the table and cN-mM; anything else is INVALID_SPEC', () => {
    expect(instanceType('medium')).toEqual({ name: 'medium', cpus: 2, memory: 2048 });
    expect(instanceType('c2-m4')).toEqual({ name: 'c2-m4', cpus: 2, memory: 4096 });
    for (const bad of ['huge', 'c0-m1', 'c2-m0', 'c2-m', 'c300-m1', 'C2-M4']) expect(() => instanceType(bad)).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
  });
});
