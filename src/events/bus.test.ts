import { describe, expect, it } from 'vitest';
import { HANGAR_EVENT_TYPES, isEventOf, isHangarEventType, type HangarEvent } from '../model/events.js';
import { SqliteStore } from '../store/sqlite.js';
import { SwitchableStore } from '../store/switchable.js';
import type { Store } from '../store/store.js';
import { HangarError } from '../errors/errors.js';
import { EventBus } from './bus.js';

describe('EventBus', () => {
  it('persists, then hands each event to the live subscribers', async () => {
    const bus = new EventBus(new SqliteStore(':memory:'));
    const seen: HangarEvent[] = [];
    const off = bus.subscribe((e) => seen.push(e));
    bus.subscribe(() => {
      throw new Error('a broken subscriber');
    });
    const e = await bus.publish('vm.created', 'web1', { cpus: 2, memory: 512, image: 'tiny' });
    expect(e).toMatchObject({ type: 'vm.created', vm: 'web1', data: { cpus: 2, memory: 512, image: 'tiny' } });
    expect(seen).toEqual([e]);
    off();
    await bus.publish('pool.created', undefined, { pool: 'p', path: '/srv/p' });
    expect(seen).toHaveLength(1);
    expect(bus.subscriberCount).toBe(1);
  });

  it('takes only the known names, each with its own payload (checked by tsc)', async () => {
    const bus = new EventBus(new SqliteStore(':memory:'));
    // @ts-expect-error: not an event name
    await bus.publish('vm.exploded', 'web1', {});
    // @ts-expect-error: vm.saved carries bytes and seconds
    await bus.publish('vm.saved', 'web1', { bytes: 1 });
    // @ts-expect-error: peer.added has no field `token`
    await bus.publish('peer.added', undefined, { peer: 'b', url: 'https://b:8443', fingerprint: 'AA', token: 'x' });
    const e = await bus.publish('vm.saved', 'web1', { bytes: 1, seconds: 2 });
    if (isEventOf(e, 'vm.saved')) expect(e.data.seconds).toBe(2);
    else expect.fail('a vm.saved event');
  });
});

describe('EventBus in a cluster', () => {
  it("hands the other nodes' events (the store's followEvents) to this node's subscribers, through a store switch", async () => {
    const inner: Store = new SqliteStore(':memory:');
    let push: ((e: HangarEvent) => void) | undefined;
    inner.followEvents = (l) => {
      push = l;
      return () => (push = undefined);
    };
    const store = new SwitchableStore(inner);
    const bus = new EventBus(store);
    const seen: string[] = [];
    bus.subscribe((e) => seen.push(`${e.type}:${e.seq}`));
    push!({ seq: 42, time: 't', type: 'vm.deleted', vm: 'x', data: {} });
    await bus.publish('vm.created', 'y', { cpus: 1, memory: 1, image: undefined });
    expect(seen).toEqual(['vm.deleted:42', 'vm.created:1']);
    // After a switch (cluster init), the new backend's followers are followed.
    let pushNext: ((e: HangarEvent) => void) | undefined;
    const next: Store = new SqliteStore(':memory:');
    next.followEvents = (l) => {
      pushNext = l;
      return () => (pushNext = undefined);
    };
    await store.switchWith(async () => next);
    expect(push).toBeUndefined();
    pushNext!({ seq: 50, time: 't', type: 'vm.deleted', vm: 'z', data: {} });
    expect(seen.at(-1)).toBe('vm.deleted:50');
  });
});

describe('EventBus while the cluster store is out of reach', () => {
  const failing = (code: 'CLUSTER_STORE_UNAVAILABLE' | 'INTERNAL') => {
    const store = new SqliteStore(':memory:');
    store.appendEvent = () => Promise.reject(new HangarError(code, 'no'));
    return new EventBus(store);
  };

  it('still tells this node\'s subscribers (seq 0: not in the log), and the publisher goes on', async () => {
    const bus = failing('CLUSTER_STORE_UNAVAILABLE');
    const seen: HangarEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const e = await bus.publish('vm.state', 'a', { state: 'crashed' });
    expect(e).toMatchObject({ seq: 0, type: 'vm.state', vm: 'a' });
    expect(seen).toEqual([e]);
  });

  it('any other failure of the store is still an error', async () => {
    await expect(failing('INTERNAL').publish('vm.state', 'a', { state: 'crashed' })).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

describe('the event names', () => {
  it('are unique, dotted, and recognised', () => {
    expect(new Set(HANGAR_EVENT_TYPES).size).toBe(HANGAR_EVENT_TYPES.length);
    for (const t of HANGAR_EVENT_TYPES) {
      expect(t).toMatch(/^[a-z]+\.[a-z-]+$/);
      expect(isHangarEventType(t)).toBe(true);
    }
    expect(isHangarEventType('vm.exploded')).toBe(false);
    expect(isHangarEventType('toString')).toBe(false);
  });
});
