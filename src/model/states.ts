/**
 * The VM state machine (DESIGN.md): stopped → starting → running ⇄ paused → stopping → stopped,
 * plus crashed, migrating, unknown (a QEMU process the daemon found but could not adopt), and
 * saved: no QEMU process, memory and device state in a save file; `start` restores it.
 * Pure: the service asks here whether an operation or a transition is allowed.
 */
import { HangarError } from '../errors/errors.js';

export const VM_STATES = ['stopped', 'starting', 'running', 'paused', 'stopping', 'crashed', 'migrating', 'unknown', 'saved', 'migrated'] as const;
export type VmState = (typeof VM_STATES)[number];

export type VmOperation = 'start' | 'stop' | 'force-stop' | 'restart' | 'pause' | 'resume' | 'delete' | 'force-delete' | 'save' | 'migrate';

const TRANSITIONS: Record<VmState, readonly VmState[]> = {
  stopped: ['starting'],
  crashed: ['starting', 'stopped'],
  // A failed restore goes back to saved (the save file is kept). `stopping` and `unknown`:
  // a restarted daemon adopting a guest whose start it did not finish (QEMU shutting down, or
  // its monitor unreachable).
  starting: ['running', 'paused', 'stopped', 'crashed', 'saved', 'migrating', 'stopping', 'unknown'],
  // `unknown`: the monitor went away while QEMU kept running, or a restarted daemon could not adopt it.
  running: ['paused', 'stopping', 'stopped', 'crashed', 'migrating', 'unknown'],
  // `migrated`: a daemon restarted during a migration adopts the paused source, then learns the
  // destination runs the guest.
  paused: ['running', 'stopping', 'stopped', 'crashed', 'migrating', 'migrated', 'unknown'],
  stopping: ['stopped', 'crashed', 'running', 'paused', 'unknown'],
  // A live migration ends `migrated` on the source (the guest runs on another host now).
  // `stopping` and `unknown`: a restarted daemon adopting the guest (QEMU shutting down, or not adoptable).
  migrating: ['running', 'paused', 'stopped', 'crashed', 'saved', 'migrated', 'stopping', 'unknown'],
  unknown: ['running', 'paused', 'stopped', 'crashed', 'stopping'],
  // Restore (start) or discard the save (stopped).
  saved: ['starting', 'stopped'],
  // What is left on a migration's source: a record of where the guest went, until deleted.
  migrated: [],
};

/** States in which a QEMU process exists (or may exist). */
export const ACTIVE_STATES: readonly VmState[] = ['starting', 'running', 'paused', 'stopping', 'migrating', 'unknown'];

const ALLOWED_FROM: Record<VmOperation, readonly VmState[]> = {
  start: ['stopped', 'crashed', 'saved'],
  stop: ['running', 'paused'],
  'force-stop': ['running', 'paused', 'stopping', 'starting', 'unknown'],
  restart: ['running', 'paused'],
  pause: ['running'],
  resume: ['paused'],
  delete: ['stopped', 'crashed', 'saved', 'migrated'],
  save: ['running', 'paused'],
  migrate: ['running', 'paused'],
  'force-delete': [...VM_STATES],
};

export function canTransition(from: VmState, to: VmState): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/**
 * Throws INTERNAL unless `from → to` is in the table: every state change of the VM service
 * passes here, so a change the state machine does not know is a bug that shows at once.
 */
export function assertTransition(name: string, from: VmState, to: VmState): void {
  if (canTransition(from, to)) return;
  throw new HangarError('INTERNAL', `VM "${name}": illegal state transition from ${from} to ${to}.`, { details: { from, to } });
}

export function isActive(state: VmState): boolean {
  return ACTIVE_STATES.includes(state);
}

const HINTS: Partial<Record<VmOperation, string>> = {
  start: 'it is already running; stop it first or use restart',
  stop: 'it is not running',
  pause: 'only a running VM can be paused',
  resume: 'only a paused VM can be resumed',
  delete: 'stop it first, or delete with --force to stop and delete it',
  restart: 'only a running or paused VM can be restarted; use start',
  save: 'only a running or paused VM can be saved',
  migrate: 'only a running or paused VM can be migrated',
};

/**
 * What may be done to a saved VM. Its disks must stay exactly as they were when the memory
 * was saved, so everything else (volumes, snapshots, settings) is refused until it is
 * restored (`start`) or the save is discarded (`start --fresh`, `discard-save`).
 */
export const SAVED_VM_OPERATIONS: readonly string[] = ['start', 'delete', 'discard-save'];

export function assertSavedVmAllows(name: string, state: VmState, op: string): void {
  if (state !== 'saved' || SAVED_VM_OPERATIONS.includes(op)) return;
  throw new HangarError('VM_STATE', `Cannot ${op} VM "${name}" while it is saved: its disks must not change before the saved memory is restored. Start it (restores the save), or discard the save with \`hangar vm discard-save ${name}\` (or \`vm start --fresh\`).`, { details: { state, operation: op } });
}

/** Throws VM_STATE with a message that says what to do, unless `op` is allowed in `state`. */
export function assertOperationAllowed(name: string, state: VmState, op: VmOperation): void {
  if (ALLOWED_FROM[op].includes(state)) return;
  const hint = HINTS[op] ?? `it is ${state}`;
  throw new HangarError('VM_STATE', `Cannot ${op} VM "${name}" while it is ${state}: ${hint}.`, { details: { state, operation: op } });
}
