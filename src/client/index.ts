/** The API client (see client.ts) and what it takes to reach a daemon over TLS (tls.ts). */
export { ApiClient, refusedUpgrade, unreachable, type RemoteDaemon } from './client.js';
export * from './calls.js';
export { connectVerified, normalizeFingerprint, parseDaemonUrl, presentedFingerprint, resolveTrust, type TlsEndpoint, type TlsTrust, type TrustOptions } from './tls.js';
