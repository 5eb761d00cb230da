/**
 * The event bus: every state change is persisted through the store (so `hangar events`
 * can replay history) and then handed to live subscribers (the SSE stream). Only the
 * names of src/model/events.ts can be published, each with its own payload.
 */
import type { HangarEvent, HangarEventData, HangarEventType } from '../model/events.js';
import type { Store } from '../store/store.js';
import { isHangarError } from '../errors/errors.js';

export type EventListener = (event: HangarEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly store: Store) {
    // In a cluster: the other nodes' events reach this node's subscribers too.
    store.followEvents?.((event) => this.deliver(event));
  }

  async publish<T extends HangarEventType>(type: T, vm: string | undefined, data: HangarEventData<T>): Promise<HangarEvent>;
  async publish(type: HangarEventType, vm: string | undefined, data: object): Promise<HangarEvent> {
    const record = data as Record<string, unknown>;
    let event: HangarEvent;
    try {
      event = await this.store.appendEvent(vm === undefined ? { type, data: record } : { type, vm, data: record });
    } catch (e) {
      // etcd out of reach: what happened has happened; its event still reaches this node's
      // subscribers (seq 0: not in the log), and the operation that published goes on.
      if (!(isHangarError(e) && e.code === 'CLUSTER_STORE_UNAVAILABLE')) throw e;
      event = { seq: 0, time: new Date().toISOString(), type, data: record, ...(vm !== undefined && { vm }) };
    }
    this.deliver(event);
    return event;
  }

  private deliver(event: HangarEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not stop the others or the operation that published.
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}
