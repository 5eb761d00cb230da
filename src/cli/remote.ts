/** The CLI's connection flags: the unix socket by default, or `--remote https://…` with a token. */
import { DEFAULT_DATA_DIR, DEFAULT_SOCKET } from '../daemon/config.js';
import { HangarError } from '../errors/errors.js';
import { ApiClient, resolveTrust } from '../client/index.js';

export interface RemoteOptions {
  socket?: string;
  remote?: string;
  token?: string;
  ca?: string;
  fingerprint?: string;
  insecure?: boolean;
}

export { addRemoteOptions } from './program.js';

/**
 * The client the flags and environment ask for. Flags win over the environment; an
 * explicit --socket wins over HANGAR_URL; --socket with --remote is refused.
 */
export function clientFor(o: RemoteOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
  if (o.remote !== undefined && o.socket !== undefined) throw new HangarError('INVALID_SPEC', 'Give --socket or --remote, not both.');
  const url = o.remote ?? (o.socket === undefined ? env.HANGAR_URL : undefined);
  if (url === undefined || url === '') return new ApiClient(o.socket ?? env.HANGAR_SOCKET ?? DEFAULT_SOCKET);
  const token = o.token ?? env.HANGAR_TOKEN;
  const fingerprint = o.fingerprint ?? env.HANGAR_FINGERPRINT;
  const caFile = o.ca ?? env.HANGAR_CA;
  const trust = resolveTrust({
    ...(fingerprint && { fingerprint }), ...(caFile && { caFile }), ...(o.insecure && { insecure: true }),
    dataDir: env.HANGAR_DATA_DIR ?? DEFAULT_DATA_DIR,
  });
  return new ApiClient({ url, ...(token && { token }), trust });
}
