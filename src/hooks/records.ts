/** The stored records of webhooks: the hook (`hooks`, by name) and its delivery state (`hook-state`, by the hook's id). */
import type { HookDelivery } from '../contract/hooks.js';

export interface HookRecord {
  id: string;
  name: string;
  url: string;
  events: string[];
  /** Signs each delivery; never leaves the daemon. */
  secret?: string;
  createdAt: string;
  /** In a cluster: the node that delivers it (the one it was created on). */
  node?: string;
}

export interface HookStateRecord {
  hook: string;
  /** The seq of the last event the hook is done with (delivered, or not matching). */
  cursor: number;
  /** Newest first, at most DELIVERIES_KEPT. */
  deliveries: HookDelivery[];
}

export const DELIVERIES_KEPT = 20;

/** The state with this delivery first (replacing an earlier record of the same delivery). */
export function withDelivery(state: HookStateRecord, delivery: HookDelivery): HookStateRecord {
  const rest = state.deliveries.filter((d) => d.id !== delivery.id);
  return { ...state, deliveries: [delivery, ...rest].slice(0, DELIVERIES_KEPT) };
}
