/**
 * Errors of the host network driver. Each carries a stable `code`, so the service and API can
 * map it to the catalogue (src/errors): INVALID_SPEC and the NETWORK_* codes below.
 */

export type NetworkErrorCode =
  /** A bad name, CIDR, prefix length or combination of options. */
  | 'INVALID_SPEC'
  /** The subnet overlaps another Hangar network, or an address or route of the host. */
  | 'NETWORK_OVERLAP'
  /** The parent interface is missing, unusable, or already enslaved elsewhere. */
  | 'NETWORK_PARENT'
  /** A host command (ip, nft, dnsmasq) failed, or a name is taken by something not Hangar's. */
  | 'NETWORK_FAILED';

export class NetworkError extends Error {
  readonly code: NetworkErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: NetworkErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetworkError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isNetworkError(e: unknown): e is NetworkError {
  return e instanceof NetworkError;
}
