/**
 * `node evacuate NODE` of an offline NODE: its QEMU is out of reach, so nothing can be
 * migrated. What can safely run elsewhere, and what cannot:
 *
 * - An HA VM (every disk on a shared pool) is restarted elsewhere by HA (ha.ts) once NODE's
 *   lease expired plus the grace: NODE's fencer has killed it by then. The evacuation does
 *   not restart it itself (a second path beside HA's coordinator would race it): it waits
 *   for HA's recovery, showing progress, and reports where each VM went, or why it did not.
 *   A VM it saw recovered is then the evacuation's move (`lastMove.reason` evacuation, kind
 *   cold: the guest was restarted), so that `node restore NODE` brings it back.
 * - A VM that is not HA is stranded even on shared storage: nothing fences it, and a node
 *   that is only cut off may still run it.
 * - A VM with a disk that is not on a shared pool is stranded: its disks are only on NODE.
 */
import { errorText, isHangarError } from '../errors/errors.js';
import type { HangarEvent } from '../model/events.js';
import type { Store, VmRecord } from '../store/store.js';
import type { EvacuationItem } from './evacuate.js';
import { HA_WANTED_STATES, statusOf } from './ha.js';

export interface OfflineRecoveryDeps {
  store: Store;
  /** Every node's events (HA's vm.ha-* events say why a VM is not restarted). */
  events: { subscribe(listener: (e: HangarEvent) => void): () => void };
  /** A storage pool: shared ones are reached by every node. */
  pool: (name: string) => Promise<{ shared?: boolean } | undefined>;
  /** The cluster's lease TTL and HA grace (ms). */
  timings: () => { ttlMs: number; graceMs: number } | undefined;
  /** How long HA gets, after the lease TTL and grace, to start each VM elsewhere (ms; default 60 s). */
  startBudgetMs?: number;
  /** Between two looks at the store (ms; default 500). */
  pollMs?: number;
}

interface Ctx {
  progress(p: { phase?: string; percent?: number; message?: string }): void;
  signal: AbortSignal;
}

/** Whether HA can take the VM of an offline node, or why it stays stranded there. */
export async function offlineVerdict(v: VmRecord, node: string, pool: OfflineRecoveryDeps['pool']): Promise<{ ha: true } | { stranded: string }> {
  const local: string[] = [];
  for (const d of v.spec.disks) {
    if (!d.volume) local.push(`${d.id} is the file ${d.path}`);
    else if (!(await pool(d.volume.pool))?.shared) local.push(`${d.id} is on pool "${d.volume.pool}", not shared`);
  }
  if (local.length) return { stranded: `its disks are only on ${node} (${local.join('; ')})` };
  if (!v.spec.ha) return { stranded: `not HA: nothing guarantees node ${node} stopped it; mark it ha=true or bring the node back` };
  if (v.stoppedByUser || !HA_WANTED_STATES.has(v.state)) return { stranded: `it is ${v.state}: HA restarts only VMs that were running; it stays on ${node} until the node is back` };
  return { ha: true };
}

/**
 * The `recoverOffline` hook of Evacuations: an item for every VM of the offline node, HA's
 * recoveries waited for (up to lease TTL + grace + the start budget).
 */
export function offlineRecovery(d: OfflineRecoveryDeps) {
  return async (node: string, vms: VmRecord[], ctx?: Ctx): Promise<EvacuationItem[]> => {
    const t0 = Date.now();
    const out = new Map<string, EvacuationItem>();
    const waiting = new Map<string, VmRecord>();
    // Out of reach but not lost (no TLS listener to carry moves to): HA takes nothing from it.
    const leased = Boolean(await d.store.collection('node-leases').get(node));
    for (const v of vms) {
      const verdict = await offlineVerdict(v, node, d.pool);
      const why = 'stranded' in verdict ? verdict.stranded : leased ? `node ${node} still holds its lease (it is not lost, only out of reach: no TLS listener to carry moves to), so HA does not restart its VMs elsewhere` : undefined;
      if (why) out.set(v.name, { vm: v.name, action: 'none', outcome: 'stranded', error: why, totalMs: 0 });
      else waiting.set(v.name, v);
    }
    if (waiting.size) await waitForHa(d, node, waiting, out, t0, ctx);
    return vms.map((v) => out.get(v.name)!);
  };
}

async function waitForHa(d: OfflineRecoveryDeps, node: string, waiting: Map<string, VmRecord>, out: Map<string, EvacuationItem>, t0: number, ctx?: Ctx): Promise<void> {
  const t = d.timings();
  const limitMs = (t ? t.ttlMs + t.graceMs : 0) + (d.startBudgetMs ?? 60_000);
  const total = waiting.size;
  const lastError = new Map<string, string>();
  const done = (name: string, item: Omit<EvacuationItem, 'vm' | 'totalMs'>) => {
    out.set(name, { vm: name, ...item, totalMs: Date.now() - t0 });
    waiting.delete(name);
  };
  // HA's own word on a VM it cannot restart now (it tries again on each step).
  const unsubscribe = d.events.subscribe((e) => {
    if (!e.vm || !waiting.has(e.vm)) return;
    const data = e.data as { node?: string; reason?: string; error?: string };
    if (e.type === 'vm.ha-stranded') lastError.set(e.vm, `HA found no node for it: ${data.reason ?? 'no node can take it'}`);
    if (e.type === 'vm.ha-failed') lastError.set(e.vm, `HA could not start it on node ${data.node ?? '?'}: ${data.error ?? 'failed'}`);
  });
  try {
    for (;;) {
      for (const [name, v] of [...waiting]) {
        const cur = await d.store.getVm(name);
        if (!cur || cur.id !== v.id) {
          done(name, { action: 'none', outcome: 'skipped', error: 'it was deleted meanwhile' });
          continue;
        }
        if (cur.node === node || cur.haPending || (cur.state !== 'running' && cur.state !== 'paused')) continue;
        done(name, { action: 'cold', outcome: 'recovered', to: cur.node! });
        await claimMove(d.store, name, node).catch((e: unknown) => {
          // Still recovered; only `node restore` will not bring it back.
          out.get(name)!.error = `recovered, but not marked as moved by this evacuation (node restore leaves it): ${errorText(e)}`;
        });
      }
      if (!waiting.size) return;
      const elapsed = Date.now() - t0;
      if (ctx?.signal.aborted || elapsed > limitMs) {
        for (const name of [...waiting.keys()]) {
          const cur = await d.store.getVm(name).catch(() => undefined);
          const where = cur && cur.node !== node ? cur.node : undefined;
          const why = ctx?.signal.aborted ? 'the evacuation was cancelled; HA goes on recovering it by itself' : `HA did not restart it within ${Math.round(limitMs / 1000)} s${lastError.has(name) ? ` (${lastError.get(name)})` : ''}; HA goes on trying`;
          done(name, { action: 'none', outcome: ctx?.signal.aborted ? 'skipped' : 'failed', ...(where && { to: where }), error: why });
        }
        return;
      }
      const grace = t ? `, then HA's grace of ${t.graceMs / 1000} s` : '';
      ctx?.progress({
        phase: `waiting for HA (${total - waiting.size} of ${total} recovered)`,
        percent: Math.round((100 * (total - waiting.size)) / total),
        message: `node ${node} is offline: HA restarts ${names([...waiting.keys()])} elsewhere once its lease expired${grace} (its fencer has killed them by then); ${Math.round(elapsed / 1000)} s so far`,
      });
      await new Promise((r) => setTimeout(r, d.pollMs ?? 500));
    }
  } finally {
    unsubscribe();
  }
}

/**
 * Makes HA's recovery of a VM from `node` this evacuation's move, so that `node restore`
 * brings it back (unless someone moved it since). A cold move: the guest was restarted.
 */
async function claimMove(store: Store, name: string, node: string): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const v = await store.getVm(name);
    const m = v?.lastMove;
    if (!v || !m || m.from !== node || m.to !== v.node || m.reason === 'evacuation') return;
    try {
      await store.updateVmStatus(v.id, { ...statusOf(v), lastMove: { ...m, reason: 'evacuation', kind: 'cold' } }, { expectRevision: v.statusRevision! });
      return;
    } catch (e) {
      if (!(isHangarError(e) && e.code === 'CONFLICT')) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The first few names, and how many more. */
function names(list: string[]): string {
  return list.length <= 5 ? list.join(', ') : `${list.slice(0, 5).join(', ')} and ${list.length - 5} more`;
}
