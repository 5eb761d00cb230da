/**
 * The one write path of VM records: every change goes through `update`, one at a time per
 * VM, and a change of `state` must be in the state machine's table (src/model/states.ts).
 */
import { HangarError } from '../errors/errors.js';
import type { EventBus } from '../events/bus.js';
import { assertTransition, isActive, type VmState } from '../model/states.js';
import type { Store, VmRecord } from '../store/store.js';
import { KeyedMutex } from '../util/mutex.js';

export class VmRecords {
  private readonly lock = new KeyedMutex();

  constructor(
    private readonly store: Pick<Store, 'getVm' | 'createVm' | 'updateVm'>,
    private readonly events: Pick<EventBus, 'publish'>,
    private readonly log: (msg: string) => void,
    /** In a cluster: this node's name, written into each VM it creates. */
    private readonly node: () => string | undefined = () => undefined,
  ) {}

  /** The record, or VM_NOT_FOUND. */
  async get(name: string): Promise<VmRecord> {
    const rec = await this.store.getVm(name);
    if (!rec) throw new HangarError('VM_NOT_FOUND', `There is no VM named "${name}": see \`hangar vm list\`.`);
    return rec;
  }

  find(name: string): Promise<VmRecord | undefined> {
    return this.store.getVm(name);
  }

  /** Stores a new record; it starts `stopped` (its QEMU, if any, is started afterwards). */
  async create(record: VmRecord): Promise<void> {
    if (record.state !== 'stopped') {
      throw new HangarError('INTERNAL', `VM "${record.name}": a new record must start stopped, not ${record.state}.`, { details: { to: record.state } });
    }
    const node = this.node();
    await this.store.createVm(node === undefined ? record : { ...record, node });
  }

  /**
   * Changes a record with `fn` (given the stored one). A state change outside the table
   * throws INTERNAL (and is logged) and changes nothing.
   */
  update(name: string, fn: (r: VmRecord) => VmRecord): Promise<VmRecord> {
    return this.lock.run(name, async () => {
      const current = await this.get(name);
      // A VM another node holds (moved away while this node was cut off) is not this node's to write.
      const self = this.node();
      if (self !== undefined && current.node !== undefined && current.node !== self) {
        throw new HangarError('VM_ON_OTHER_NODE', `VM "${name}" is on node "${current.node}" now, not this node ("${self}").`, { details: { node: current.node } });
      }
      const next = fn(current);
      if (next.state !== current.state) {
        try {
          assertTransition(name, current.state, next.state);
        } catch (e) {
          // A bug, not a user error: loud in the daemon's log (and in tests, which fail on it).
          this.log(`${name}: illegal state transition from ${current.state} to ${next.state} refused (the record stays ${current.state})`);
          throw e;
        }
      }
      return this.store.updateVm(next);
    });
  }

  /** Changes the state (with `extra` fields; an `extra.stateReason` of undefined clears it) and says so on the event bus. */
  async setState(name: string, state: VmState, extra: Partial<VmRecord> = {}): Promise<VmRecord> {
    const rec = await this.update(name, (r) => {
      const next = { ...r, ...extra, state };
      if ('stateReason' in extra && extra.stateReason === undefined) delete next.stateReason;
      return next;
    });
    await this.events.publish('vm.state', name, rec.runtime && isActive(state) ? { state, pid: rec.runtime.pid } : { state });
    return rec;
  }
}
