/**
 * Placement groups (src/cluster/groups.ts): affinity / anti-affinity rules between VMs, hard
 * (a filter) or soft (a weight), and why placement chose a VM's node (`vm show`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

const Policy = Type.Union([Type.Literal('affinity'), Type.Literal('anti-affinity')], {
  description: 'affinity: the members on one node; anti-affinity: each member on a node of its own.',
});
const Enforcement = Type.Union([Type.Literal('hard'), Type.Literal('soft')], {
  description: 'hard (default): a node that breaks the rule is ruled out, and a create no node satisfies fails with PLACEMENT_IMPOSSIBLE; soft: only a weight in the score (the rule is kept when it can be).',
});

export const CreateGroupBody = Type.Object({
  name: Type.String({ description: '1-63 letters, digits or hyphens, starting with a letter.' }),
  policy: Policy,
  enforcement: Type.Optional(Enforcement),
  description: Type.Optional(Type.String()),
}, strict);
export type CreateGroupBody = Static<typeof CreateGroupBody>;

export const PlacementGroup = Type.Object({
  name: Type.String(),
  policy: Policy,
  enforcement: Enforcement,
  description: Type.Optional(Type.String()),
  createdAt: Type.String(),
  members: Type.Array(Type.Object({
    vm: Type.String(),
    node: Type.Optional(Type.String({ description: 'In a cluster: the node that holds it.' })),
    state: Type.String(),
  }), { description: 'The VMs in the group, by name.' }),
  satisfied: Type.Boolean({ description: 'The members are where the policy wants them (always true on a single host, where nothing is placed).' }),
}, { $id: 'PlacementGroup' });
export type PlacementGroup = Static<typeof PlacementGroup>;

export const GroupParam = Type.Object({ group: Type.String() }, strict);
export const GroupMemberParam = Type.Object({ group: Type.String(), vm: Type.String() }, strict);
export const GroupMemberBody = Type.Object({ vm: Type.String({ description: 'The VM to join to the group (a VM is in one group at most).' }) }, strict);
export type GroupMemberBody = Static<typeof GroupMemberBody>;
export const GroupDeleteQuery = Type.Object({
  force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Delete it even with members: they leave the group (the rule is dropped; no VM moves).' })),
}, strict);

/** `vm create`'s field. */
export const GroupCreateFields = {
  group: Type.Optional(Type.String({ description: 'The placement group it joins (hangar group create): in a cluster, placement keeps its affinity or anti-affinity rule.' })),
};

/** Why placement chose the VM's node, kept on the VM at create (in a cluster). */
export const PlacementDecision = Type.Object({
  node: Type.String({ description: 'The node chosen.' }),
  at: Type.String(),
  score: Type.Optional(Type.Number()),
  reasons: Type.Array(Type.String(), { description: 'What the chosen node had for it (capacity, group term).' }),
  target: Type.Optional(Type.String({ description: 'The target the create asked for.' })),
  group: Type.Optional(Type.String()),
  others: Type.Array(Type.Object({
    node: Type.String(),
    eligible: Type.Boolean(),
    score: Type.Optional(Type.Number()),
    reasons: Type.Array(Type.String()),
  }), { description: 'The other nodes: their lower score, or why they were ruled out.' }),
});
export type PlacementDecision = Static<typeof PlacementDecision>;

/** The VM view's fields. */
export const GroupViewFields = {
  group: Type.Optional(Type.String({ description: 'The placement group it is in.' })),
  placed: Type.Optional(PlacementDecision),
};
