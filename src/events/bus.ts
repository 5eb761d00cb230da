/**
 * The event bus: every state change is persisted through the store (so `hangar events`
 * can replay history) and then handed to live subscribers (the SSE stream).
 */
import type { HangarEvent, Store } from '../store/store.js';

export type EventListener = (event: HangarEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly store: Store) {}

  async publish(type: string, vm: string | undefined, data: Record<string, unknown> = {}): Promise<HangarEvent> {
    const event = await this.store.appendEvent(vm === undefined ? { type, data } : { type, vm, data });
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not stop the others or the operation that published.
      }
    }
    return event;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }
}
