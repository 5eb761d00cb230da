/**
 * One certificate for the whole cluster (as Incus has): `cluster init` puts the first node's
 * TLS certificate and key in etcd (`<prefix>cluster-cert`), every node that joins serves
 * it, so a client pins one fingerprint for all nodes. A join token carries the fingerprint,
 * and a joining node takes the certificate only if etcd's matches it.
 */
import { X509Certificate } from 'node:crypto';
import type { EtcdClient } from '../etcd/client.js';
import { HangarError } from '../errors/errors.js';

/** What the daemon's TLS listener offers the cluster (absent without --listen). */
export interface NodeCertificate {
  /** The certificate and key served now. */
  material(): { cert: string; key: string; fingerprint: string };
  /** Serves this one from now on and at every start; its fingerprint. */
  useClusterCertificate(cert: string, key: string): Promise<string>;
}

const key = (prefix: string) => `${prefix}cluster-cert`;

/** At init: this node's certificate becomes the cluster's. Its fingerprint. */
export async function publishClusterCertificate(client: EtcdClient, prefix: string, node: NodeCertificate): Promise<string> {
  const { cert, key: privateKey } = node.material();
  await client.put(key(prefix), JSON.stringify({ cert, key: privateKey }));
  return node.useClusterCertificate(cert, privateKey);
}

/** The cluster certificate's fingerprint (for join tokens), or undefined when the cluster has none. */
export async function clusterFingerprint(client: EtcdClient, prefix: string): Promise<string | undefined> {
  const kv = (await client.range(key(prefix))).kvs[0];
  if (!kv) return undefined;
  return new X509Certificate((JSON.parse(kv.value) as { cert: string }).cert).fingerprint256;
}

/**
 * At join: serves the cluster's certificate, once its fingerprint is the one the token
 * pins (JOIN_TOKEN_INVALID otherwise: etcd is not the cluster the token was made by). Its
 * fingerprint; undefined when the cluster has no certificate.
 */
export async function adoptClusterCertificate(client: EtcdClient, prefix: string, pinned: string | undefined, node: NodeCertificate | undefined): Promise<string | undefined> {
  const kv = (await client.range(key(prefix))).kvs[0];
  if (!kv) return undefined;
  const { cert, key: privateKey } = JSON.parse(kv.value) as { cert: string; key: string };
  const fingerprint = new X509Certificate(cert).fingerprint256;
  if (pinned !== undefined && fingerprint !== pinned) {
    throw new HangarError('JOIN_TOKEN_INVALID', `The cluster's certificate in etcd (${fingerprint}) is not the one the token pins (${pinned}).`);
  }
  return node ? node.useClusterCertificate(cert, privateKey) : fingerprint;
}
