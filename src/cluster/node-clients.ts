/**
 * The API clients a node carries requests to the other nodes with: one per node, each
 * keeping its verified TLS connections (a pinned keep-alive agent) for the next request.
 * A node whose address, fingerprint or the cluster token changed gets a new client (its
 * old connections are closed), so a request never goes out over a connection verified
 * against what the node record no longer says.
 */
import { ApiClient } from '../client/client.js';
import { parseDaemonUrl, PinnedAgent } from '../client/tls.js';

interface Entry {
  key: string;
  client: ApiClient;
  agent: PinnedAgent;
}

export class NodeClients {
  private readonly byNode = new Map<string, Entry>();

  /** The client for `node` at `address` (host:port) whose certificate must have `fingerprint`. */
  get(node: string, address: string, fingerprint: string, token: string): ApiClient {
    const key = `${address}\n${fingerprint}\n${token}`;
    const had = this.byNode.get(node);
    if (had?.key === key) return had.client;
    had?.agent.destroy();
    const url = `https://${address}`;
    const trust = { kind: 'fingerprint' as const, fingerprint };
    const agent = new PinnedAgent(parseDaemonUrl(url), trust);
    const client = new ApiClient({ url, token, trust, agent });
    this.byNode.set(node, { key, client, agent });
    return client;
  }

  /** Closes a node's kept connections (it left, or did not answer). */
  drop(node: string): void {
    this.byNode.get(node)?.agent.destroy();
    this.byNode.delete(node);
  }

  close(): void {
    for (const node of [...this.byNode.keys()]) this.drop(node);
  }
}
