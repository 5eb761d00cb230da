/**
 * The fencer's rules with a fake etcd and a fake clock: when it kills HA guests, when it
 * lifts the fence, and that a slow keep-alive never holds the deadline back.
 */
import { describe, expect, it } from 'vitest';
import type { FencerState, HaGuest } from './files.js';
import { Fencer, type FencerEtcd } from './fencer.js';

function setup(o: { previous?: FencerState } = {}) {
  let now = 1_000_000;
  const alive = new Set(['g1', 'g2']);
  const killed: string[] = [];
  const log: string[] = [];
  let keepalive: () => Promise<number> = async () => 6;
  let daemon = true;
  const leases: string[] = [];
  const etcd: FencerEtcd = {
    leaseGrant: async () => {
      leases.push(`L${leases.length + 1}`);
      return { id: leases[leases.length - 1]!, ttl: 6 };
    },
    leaseKeepAlive: () => keepalive(),
    leaseRevoke: async () => undefined,
    put: async () => 1,
  };
  const guests: HaGuest[] = [...alive].map((name, i) => ({ id: `id-${name}`, name, pid: 100 + i, pidStartTime: '1' }));
  let saved: FencerState | undefined;
  const f = new Fencer({
    etcd, node: 'n1', prefix: '/h/', ttlSeconds: 6, keepaliveMs: 2000, marginMs: 1000,
    now: () => now, guests: async () => guests, daemonAlive: () => daemon, log: (m) => log.push(m), self: { pid: 1, pidStartTime: '1' },
    kill: (g) => {
      if (!alive.delete(g.name)) return false;
      killed.push(g.name);
      return true;
    },
    save: async (s) => {
      saved = s;
    },
    ...(o.previous && { previous: o.previous }),
  });
  const flush = () => new Promise((r) => setTimeout(r, 0));
  /** Advances the clock in 100 ms steps, ticking at each. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      now += 100;
      await f.tick();
      await flush();
    }
  };
  return {
    f, killed, log, leases, alive, run, flush,
    get now() {
      return now;
    },
    get saved() {
      return saved;
    },
    setKeepalive: (fn: () => Promise<number>) => (keepalive = fn),
    setDaemon: (alive: boolean) => (daemon = alive),
  };
}

describe('Fencer', () => {
  it('holds the lease while keep-alives get through: nothing is killed', async () => {
    const t = setup();
    await t.run(30_000);
    expect(t.leases).toEqual(['L1']);
    expect(t.killed).toEqual([]);
    expect(t.saved).toMatchObject({ lease: 'L1', ttlSeconds: 6 });
    expect(t.saved!.deadline! - t.now).toBeGreaterThan(3000);
  });

  it('kills the HA guests at the deadline minus the margin when keep-alives fail, not before', async () => {
    const t = setup();
    await t.run(1000);
    const lastAck = t.saved!.lastAckAt!;
    t.setKeepalive(() => Promise.reject(new Error('etcd out of reach')));
    // Keep-alives fail from here on; the deadline is the last ack + 6 s, the kill 1 s before.
    while (t.now < lastAck + 4900) await t.run(100);
    expect(t.killed).toEqual([]);
    await t.run(300);
    expect(t.killed.sort()).toEqual(['g1', 'g2']);
    expect(t.now - lastAck).toBeGreaterThanOrEqual(5000);
    expect(t.now - lastAck).toBeLessThan(5300);
    expect(t.saved?.fenced).toMatchObject({ vms: ['g1', 'g2'] });
  });

  it('a keep-alive that hangs does not hold the kill back', async () => {
    const t = setup();
    await t.run(1000);
    const lastAck = t.saved!.lastAckAt!;
    t.setKeepalive(() => new Promise(() => undefined));
    while (t.now < lastAck + 5200) await t.run(100);
    expect(t.killed.sort()).toEqual(['g1', 'g2']);
  });

  it('a lease that comes back alive lifts the fence; an expired one is fenced and granted anew', async () => {
    const t = setup();
    await t.run(1000);
    t.setKeepalive(() => Promise.reject(new Error('down')));
    await t.run(6000);
    expect(t.f.isFenced).toBe(true);
    // etcd answers again and the lease lived (no leader, no expiry): the fence is lifted.
    t.setKeepalive(async () => 5);
    await t.run(1000);
    expect(t.f.isFenced).toBe(false);
    expect(t.saved?.fenced).toBeUndefined();
    expect(t.leases).toEqual(['L1']);
    // Now etcd says the lease is gone: fenced at once, and a new lease is granted.
    t.alive.add('g1');
    t.setKeepalive(async () => 0);
    await t.run(2500);
    expect(t.killed).toContain('g1');
    expect(t.leases).toEqual(['L1', 'L2']);
  });

  it('a fencer that starts after one that died fences first if the old lease may be gone', async () => {
    const t = setup({ previous: { pid: 9, pidStartTime: '9', lease: 'L0', ttlSeconds: 6, lastAckAt: 1_000_000 - 10_000, updatedAt: 0 } });
    t.setKeepalive(async () => 0);
    await t.run(200);
    expect(t.killed.sort()).toEqual(['g1', 'g2']);
    expect(t.leases).toEqual(['L1']);
  });

  it('a fencer restarted in time keeps the lease it finds and kills nothing', async () => {
    const t = setup({ previous: { pid: 9, pidStartTime: '9', lease: 'L0', ttlSeconds: 6, lastAckAt: 1_000_000 - 1000, updatedAt: 0 } });
    await t.run(10_000);
    expect(t.killed).toEqual([]);
    expect(t.leases).toEqual([]);
    expect(t.saved).toMatchObject({ lease: 'L0' });
  });

  it('a daemon that stops answering: renewals stop and the HA guests are fenced at the deadline; one back in time keeps them', async () => {
    const t = setup();
    await t.run(1000);
    t.setDaemon(false);
    await t.run(3000);
    t.setDaemon(true);
    await t.run(5000);
    expect(t.killed).toEqual([]);
    t.setDaemon(false);
    const lastAck = t.saved!.lastAckAt!;
    while (t.now < lastAck + 5300) await t.run(100);
    expect(t.killed.sort()).toEqual(['g1', 'g2']);
    expect(t.log.some((l) => l.includes('does not answer'))).toBe(true);
  });

  it('shutdown fences, then revokes', async () => {
    const t = setup();
    await t.run(500);
    await t.f.shutdown();
    expect(t.killed.sort()).toEqual(['g1', 'g2']);
    expect(t.saved?.lease).toBeUndefined();
  });
});
