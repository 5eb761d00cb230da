import { describe, expect, it } from 'vitest';
import { HangarError } from '../errors/errors.js';
import { VM_STATES, assertOperationAllowed, assertSavedVmAllows, assertTransition, canTransition, isActive } from './states.js';

describe('VM state machine', () => {
  it('follows the lifecycle of DESIGN.md', () => {
    expect(canTransition('stopped', 'starting')).toBe(true);
    expect(canTransition('starting', 'running')).toBe(true);
    expect(canTransition('running', 'paused')).toBe(true);
    expect(canTransition('paused', 'running')).toBe(true);
    expect(canTransition('running', 'stopping')).toBe(true);
    expect(canTransition('stopping', 'stopped')).toBe(true);
    expect(canTransition('running', 'crashed')).toBe(true);
  });
  it('refuses shortcuts', () => {
    expect(canTransition('stopped', 'running')).toBe(false);
    expect(canTransition('stopped', 'paused')).toBe(false);
    expect(canTransition('crashed', 'running')).toBe(false);
  });
  it('throws INTERNAL for an illegal transition, naming both states', () => {
    expect(() => assertTransition('a', 'stopped', 'starting')).not.toThrow();
    try {
      assertTransition('a', 'stopped', 'running');
      expect.unreachable();
    } catch (e) {
      expect((e as HangarError).code).toBe('INTERNAL');
      expect((e as HangarError).message).toMatch(/"a".*from stopped to running/);
    }
  });
  it('knows the transitions adoption and migration recovery make', () => {
    // A restarted daemon that cannot adopt a guest, or whose monitor closed while QEMU runs.
    for (const s of ['starting', 'running', 'paused', 'stopping', 'migrating'] as const) expect(canTransition(s, 'unknown')).toBe(true);
    // Adoption finding QEMU shutting down.
    expect(canTransition('starting', 'stopping')).toBe(true);
    expect(canTransition('migrating', 'stopping')).toBe(true);
    // A source adopted paused after a migration the destination finished.
    expect(canTransition('paused', 'migrated')).toBe(true);
    expect(canTransition('migrated', 'running')).toBe(false);
  });
  it('every state can stay as it is', () => {
    for (const s of VM_STATES) expect(canTransition(s, s)).toBe(true);
  });
  it('knows which states have a QEMU process', () => {
    expect(isActive('running')).toBe(true);
    expect(isActive('stopped')).toBe(false);
    expect(isActive('crashed')).toBe(false);
  });
  it('refuses operations with VM_STATE and a hint', () => {
    expect(() => assertOperationAllowed('a', 'running', 'start')).toThrow(HangarError);
    try {
      assertOperationAllowed('a', 'running', 'delete');
    } catch (e) {
      expect((e as HangarError).code).toBe('VM_STATE');
      expect((e as HangarError).message).toMatch(/--force/);
    }
    expect(() => assertOperationAllowed('a', 'running', 'force-delete')).not.toThrow();
    expect(() => assertOperationAllowed('a', 'paused', 'resume')).not.toThrow();
  });
});

describe('the saved state', () => {
  it('is left by a restore (start) or a discard (stopped), and reached from a save', () => {
    expect(canTransition('migrating', 'saved')).toBe(true);
    expect(canTransition('saved', 'starting')).toBe(true);
    expect(canTransition('saved', 'stopped')).toBe(true);
    expect(canTransition('starting', 'saved')).toBe(true);
    expect(canTransition('saved', 'running')).toBe(false);
    expect(isActive('saved')).toBe(false);
    expect(() => assertOperationAllowed('a', 'saved', 'start')).not.toThrow();
    expect(() => assertOperationAllowed('a', 'saved', 'delete')).not.toThrow();
    expect(() => assertOperationAllowed('a', 'stopped', 'save')).toThrow(HangarError);
  });
  it('refuses everything that could change the disks', () => {
    for (const op of ['attach', 'detach', 'resize', 'snapshot', 'revert', 'set', 'nic-add']) {
      expect(() => assertSavedVmAllows('a', 'saved', op)).toThrow(/disks must not change/);
    }
    expect(() => assertSavedVmAllows('a', 'saved', 'discard-save')).not.toThrow();
    expect(() => assertSavedVmAllows('a', 'running', 'attach')).not.toThrow();
  });
});
