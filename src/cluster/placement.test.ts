import { describe, expect, it } from 'vitest';
import type { NodeRecord } from './membership.js';
import { checkTarget, isRuleReason, place, type NodeLoad } from './placement.js';

const node = (name: string, cpus: number, memoryMiB: number, labels: Record<string, string> = {}): NodeRecord => ({
  name, cpus, memoryMiB, cpuOvercommit: 1, memoryOvercommit: 1, labels, joinedAt: 't', version: 'v',
});
const load = (n: NodeRecord, cpus: number, memoryMiB: number, online = true): NodeLoad => ({ node: n, online, committed: { cpus, memoryMiB } });

describe('placement', () => {
  it('picks the node with the most free capacity left, and says why the others were not', () => {
    const r = place({ cpus: 1, memoryMiB: 1024 }, [load(node('a', 4, 8192), 3, 1024), load(node('b', 4, 8192), 1, 1024), load(node('c', 4, 8192), 0, 0, false)]);
    expect(r.chosen).toBe('b');
    expect(r.lines.map((l) => [l.node, l.eligible])).toEqual([['a', true], ['b', true], ['c', false]]);
    expect(r.lines[2]!.reasons).toEqual(['offline']);
    expect(r.lines[1]!.score).toBeGreaterThan(r.lines[0]!.score!);
  });

  it('rules out nodes short of vCPUs or memory, counting overcommit', () => {
    const over = { ...node('a', 2, 1024), cpuOvercommit: 2 };
    const r = place({ cpus: 3, memoryMiB: 512 }, [load(over, 0, 768), load(node('b', 2, 4096), 0, 0)]);
    expect(r.chosen).toBeUndefined();
    expect(r.lines[0]!.reasons).toEqual(['256 of 1024 MiB free, 512 asked']);
    expect(r.lines[1]!.reasons).toEqual(['2 of 2 vCPUs free, 3 asked']);
  });

  it('rules out a node requests cannot be carried to', () => {
    const r = place({ cpus: 1, memoryMiB: 1 }, [{ ...load(node('a', 8, 8192), 0, 0), unreachable: 'no TLS listener' }, load(node('b', 2, 1024), 1, 512)]);
    expect(r.chosen).toBe('b');
    expect(r.lines[0]!.reasons).toEqual(['no TLS listener']);
  });

  it('honours a target node or label', () => {
    const nodes = [load(node('a', 8, 8192, { rack: 'x' }), 0, 0), load(node('b', 8, 8192, { rack: 'y', ssd: '' }), 4, 4096)];
    expect(place({ cpus: 1, memoryMiB: 1, target: 'b' }, nodes).chosen).toBe('b');
    expect(place({ cpus: 1, memoryMiB: 1, target: '@rack=y' }, nodes).chosen).toBe('b');
    expect(place({ cpus: 1, memoryMiB: 1, target: '@ssd' }, nodes).chosen).toBe('b');
    expect(place({ cpus: 1, memoryMiB: 1, target: '@rack=z' }, nodes).lines[0]!.reasons).toEqual(['label rack=x, not z']);
    expect(place({ cpus: 1, memoryMiB: 1, target: 'c' }, nodes).chosen).toBeUndefined();
  });

  it('refuses a target that is neither a node name nor a label', () => {
    for (const bad of ['', 'Bad_Name', '@', '@a b', 7]) expect(() => checkTarget(bad)).toThrow(expect.objectContaining({ code: 'INVALID_SPEC' }));
    expect(checkTarget('@rack=b')).toBe('@rack=b');
  });
});

describe('placement groups', () => {
  const three = () => [load(node('a', 8, 8192), 0, 0), load(node('b', 8, 8192), 2, 2048), load(node('c', 8, 8192), 4, 4096)];
  const rule = (policy: 'affinity' | 'anti-affinity', hard: boolean, members: Record<string, string[]>) => ({ name: 'g', policy, hard, members });

  it('hard anti-affinity rules out the nodes that hold a member, whatever their capacity', () => {
    const r = place({ cpus: 1, memoryMiB: 256, group: rule('anti-affinity', true, { a: ['w1'], b: ['w2'] }) }, three());
    expect(r.chosen).toBe('c');
    expect(r.lines[0]!.reasons).toEqual(['group g (anti-affinity, hard): holds w1']);
    expect(r.lines[2]!.reasons).toContain('group g (anti-affinity, hard): no member here');
    expect(place({ cpus: 1, memoryMiB: 256, group: rule('anti-affinity', true, { a: ['w1'], b: ['w2'], c: ['w3'] }) }, three()).chosen).toBeUndefined();
  });

  it('soft anti-affinity outweighs capacity while a node without members is left, then packs the fewest', () => {
    const r = place({ cpus: 1, memoryMiB: 256, group: rule('anti-affinity', false, { a: ['w1'] }) }, three());
    expect(r.chosen).toBe('b');
    expect(r.lines[0]!.weights).toEqual({ capacity: expect.any(Number), group: -1 });
    const full = place({ cpus: 1, memoryMiB: 256, group: rule('anti-affinity', false, { a: ['w1'], b: ['w2', 'w4'], c: ['w3'] }) }, three());
    expect(full.chosen).toBe('a');
    expect(full.lines.find((l) => l.node === 'b')!.score).toBeLessThan(0);
  });

  it('affinity follows the first member: hard rules the others out, soft prefers its node', () => {
    const hard = place({ cpus: 1, memoryMiB: 256, group: rule('affinity', true, { c: ['db1'] }) }, three());
    expect(hard.chosen).toBe('c');
    expect(hard.lines[0]!.reasons).toEqual(['group g (affinity, hard): its members are on c']);
    expect(place({ cpus: 1, memoryMiB: 256, group: rule('affinity', false, { c: ['db1'] }) }, three()).chosen).toBe('c');
    // The first member goes where capacity says.
    expect(place({ cpus: 1, memoryMiB: 256, group: rule('affinity', true, {}) }, three()).chosen).toBe('a');
    // A full affinity node: hard refuses, soft goes elsewhere.
    const full = [load(node('a', 8, 8192), 0, 0), load(node('c', 2, 8192), 2, 0)];
    expect(place({ cpus: 1, memoryMiB: 256, group: rule('affinity', true, { c: ['db1'] }) }, full).chosen).toBeUndefined();
    expect(place({ cpus: 1, memoryMiB: 256, group: rule('affinity', false, { c: ['db1'] }) }, full).chosen).toBe('a');
  });
});

describe('placement: storage and networks', () => {
  const three = () => [load(node('a', 8, 8192), 0, 0), load(node('b', 8, 8192), 2, 2048), load(node('c', 8, 8192), 4, 4096)];
  const reach = (pools: Record<string, string[] | undefined>, networks: Record<string, string[] | undefined> = {}) => ({
    pools: Object.entries(pools).map(([name, nodes]) => ({ name, ...(nodes && { nodes }) })),
    networks: Object.entries(networks).map(([name, nodes]) => ({ name, ...(nodes && { nodes }) })),
  });

  it('rules out a node without the pool or a network, whatever its capacity, and says what an eligible one reaches', () => {
    const r = place({ cpus: 1, memoryMiB: 256, reach: reach({ fast: ['b', 'c'] }, { net1: ['c', 'a'] }) }, three());
    expect(r.chosen).toBe('c');
    expect(r.lines.map((l) => [l.node, l.eligible])).toEqual([['a', false], ['b', false], ['c', true]]);
    expect(r.lines[0]!.reasons).toEqual(['storage: pool fast is not on this node']);
    expect(r.lines[1]!.reasons).toEqual(['network: net1 is not on this node']);
    expect(r.lines[2]!.reasons).toContain('reaches pool fast, network net1');
    expect(r.lines.every((l) => l.reasons.filter((x) => !isRuleReason(x)).length === (l.eligible ? l.reasons.length : 0))).toBe(true);
    // Pools and networks on every node rule nothing out.
    expect(place({ cpus: 1, memoryMiB: 256, reach: reach({ default: undefined }) }, three()).chosen).toBe('a');
  });

  it('a target without the pool is ruled out by the rule (the service refuses with PLACEMENT_IMPOSSIBLE)', () => {
    const r = place({ cpus: 1, memoryMiB: 256, target: 'a', reach: reach({ fast: ['b'] }) }, three());
    expect(r.chosen).toBeUndefined();
    expect(r.lines[0]!.reasons).toEqual(['storage: pool fast is not on this node']);
    expect(r.lines[0]!.reasons.every(isRuleReason)).toBe(true);
    expect(isRuleReason('2 of 2 vCPUs free, 3 asked')).toBe(false);
  });

  it('nine VMs through one node spread by free capacity: the counts follow the capacities', () => {
    const nodes = [node('n1', 2, 65536), node('n2', 2, 65536), node('n3', 2, 65536)].map((n, i) => ({ ...n, cpuOvercommit: i + 2 }));
    const held: Record<string, number> = { n1: 0, n2: 0, n3: 0 };
    for (let i = 0; i < 9; i++) {
      const chosen = place({ cpus: 1, memoryMiB: 64 }, nodes.map((n) => load(n, held[n.name]!, 64 * held[n.name]!))).chosen!;
      held[chosen]!++;
    }
    expect(held).toEqual({ n1: 2, n2: 3, n3: 4 });
  });
});
