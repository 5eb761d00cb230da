/**
 * The cluster's nodes (GET /v1/nodes) with this node's view of the cluster (GET /v1/cluster);
 * on a single host, how to make a cluster. No event announces a lease's renewal or loss, so
 * the page re-reads both every 2.5 s while it is shown. Each node has Evacuate (every VM moves
 * away, one result line per VM) and, once evacuated, Restore (its VMs come back); both are
 * operations whose progress and results show under the table.
 */
import { useState } from 'react';
import { ErrorBox } from '../components/ErrorBox';
import { StateBadge } from '../components/StateBadge';
import { mib } from '../lib/format';
import { api } from '../lib/api';
import { useAction, useApi, useInterval } from '../lib/hooks';
import { waitForOperation } from '../lib/operations';
import type { ClusterNode, ClusterStatus, Operation } from '../lib/types';

interface EvacuationLine { vm: string; action: string; outcome: string; to?: string; error?: string; downtimeMs?: number }

const REFRESH_MS = 2500;

function seconds(n: number | undefined): string {
  return n === undefined ? '–' : `${Math.round(n)} s`;
}

export function Nodes() {
  const cluster = useApi<ClusterStatus>('/v1/cluster');
  const inCluster = cluster.data?.mode === 'cluster';
  const nodes = useApi<ClusterNode[]>(inCluster ? '/v1/nodes' : null);
  useInterval(() => {
    cluster.reload();
    if (inCluster) nodes.reload();
  }, REFRESH_MS);
  const c = cluster.data;
  const action = useAction();
  const [op, setOp] = useState<Operation>();
  const run = (node: string, verb: 'evacuate' | 'restore') => {
    if (verb === 'evacuate' && !window.confirm(`Move every VM away from node ${node}? It takes no new VMs until it is restored.`)) return;
    void action.run(async () => {
      const started = await api<Operation>('POST', `/v1/nodes/${encodeURIComponent(node)}/${verb}`, verb === 'restore' ? {} : undefined);
      setOp(started);
      setOp(await waitForOperation(started, setOp).catch((e: unknown) => {
        nodes.reload();
        throw e;
      }));
      nodes.reload();
    });
  };
  const lines = (op?.result as { results?: EvacuationLine[] } | undefined)?.results;
  return (
    <section>
      <h1>Nodes</h1>
      <ErrorBox error={cluster.error ?? (inCluster ? nodes.error : undefined)} />
      {c?.mode === 'single' && (
        <p className="muted" data-cluster="single">
          This host is not in a cluster: it runs alone on its own store. Make it the first node of one with{' '}
          <code>hangar cluster init --etcd URL</code>, then add hosts with <code>hangar cluster add NODE</code> and{' '}
          <code>hangar cluster join TOKEN</code> on each.
        </p>
      )}
      {c?.mode === 'cluster' && (
        <p className="small" data-cluster="cluster">
          This node: <strong data-field="node">{c.node ?? '–'}</strong> · cluster <span className="mono" data-field="cluster-id">{c.clusterId ?? '–'}</span> · etcd{' '}
          <span className="mono" data-field="etcd">{c.etcd?.join(', ') ?? '–'}</span> ·{' '}
          <span data-field="connected" data-connected={String(c.connected === true)} className={c.connected ? '' : 'error-text'}>
            {c.connected ? 'connected' : 'etcd out of reach (reads answer from the last state, writes fail)'}
          </span>
        </p>
      )}
      {inCluster && nodes.data && nodes.data.length === 0 && <p className="muted">No nodes.</p>}
      {inCluster && nodes.data && nodes.data.length > 0 && (
        <table className="nodes">
          <thead>
            <tr><th>name</th><th>state</th><th>address</th><th>vCPUs used/total</th><th>memory used/total</th><th>VMs running/total</th><th>labels</th><th>lease age/TTL</th><th></th></tr>
          </thead>
          <tbody>
            {nodes.data.map((n) => (
              <tr key={n.name} data-node={n.name} data-state={n.state}>
                <td>{n.name}{n.name === c?.node ? <span className="muted small"> (this node)</span> : null}</td>
                <td><StateBadge state={n.state} />{n.evacuation && <span className="small" data-field="evacuation"> {n.evacuation.state}</span>}</td>
                <td className="mono">{n.address ?? '–'}</td>
                <td>{n.allocation.cpus} / {n.cpus}</td>
                <td>{mib(n.allocation.memoryMiB)} / {mib(n.memoryMiB)}</td>
                <td>{n.allocation.running} / {n.allocation.vms}</td>
                <td className="small">{Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}</td>
                <td>{seconds(n.leaseAgeSeconds)} / {seconds(n.leaseTtlSeconds)}</td>
                <td>
                  {n.evacuation
                    ? <button data-action="restore" disabled={action.busy} onClick={() => run(n.name, 'restore')}>Restore</button>
                    : <button data-action="evacuate" className="danger" disabled={action.busy} onClick={() => run(n.name, 'evacuate')}>Evacuate</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {op && (
        <div className="card" data-operation={op.kind} data-state={op.state}>
          <b>{op.kind}</b> {op.state}{op.progress.phase && ` — ${op.progress.phase}`}{op.progress.percent !== undefined && ` ${Math.round(op.progress.percent)}%`}
          {lines && lines.length > 0 && (
            <table className="small">
              <thead><tr><th>VM</th><th>action</th><th>outcome</th><th>to</th><th>downtime</th><th>error</th></tr></thead>
              <tbody>
                {lines.map((l) => (
                  <tr key={l.vm} data-vm={l.vm} data-outcome={l.outcome}>
                    <td>{l.vm}</td><td>{l.action}</td><td>{l.outcome}</td><td>{l.to ?? '–'}</td>
                    <td>{l.downtimeMs === undefined ? '–' : `${l.downtimeMs} ms`}</td><td className="error-text">{l.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      <ErrorBox error={action.error} onClose={action.clear} />
    </section>
  );
}
