/**
 * Errors of the image import engine. Each carries a stable `code` that the caller maps
 * to its own error catalogue, and a message that says what to do next.
 */

export type ImportErrorCode =
  | 'CHECKSUM_MISMATCH'
  | 'DOWNLOAD_FAILED'
  | 'UNSUPPORTED_FORMAT'
  | 'UNSAFE_IMAGE'
  | 'NO_SPACE'
  | 'ABORTED'
  | 'BAD_SOURCE'
  | 'BAD_OPTIONS'
  | 'DEST_EXISTS'
  | 'CONVERT_FAILED';

export class ImportError extends Error {
  readonly code: ImportErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ImportErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // An aborted import rejects with an AbortError, as the platform's own APIs do.
    this.name = code === 'ABORTED' ? 'AbortError' : 'ImportError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isImportError(e: unknown): e is ImportError {
  return e instanceof ImportError;
}

export function abortedError(signal?: AbortSignal): ImportError {
  return new ImportError('ABORTED', 'The import was cancelled; nothing was imported. Start it again to retry.', {
    cause: signal?.reason,
  });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortedError(signal);
}

/** The errno-style code of a Node error, if it has one. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const c = (e as { code: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

export function isAbortLike(e: unknown): boolean {
  return (
    typeof e === 'object' && e !== null &&
    ((e as { name?: unknown }).name === 'AbortError' || errnoCode(e) === 'ABORT_ERR')
  );
}

export function noSpaceError(where: string, cause?: unknown): ImportError {
  return new ImportError(
    'NO_SPACE',
    `There is not enough disk space ${where}; nothing was imported. Free some space (or choose a pool on a larger filesystem) and import again.`,
    { cause },
  );
}

/**
 * Maps a low-level failure to an ImportError: ENOSPC/EDQUOT become NO_SPACE, aborts become
 * ABORTED; an ImportError passes through; anything else gets `fallback`.
 */
export function toImportError(e: unknown, signal: AbortSignal | undefined, fallback: (e: unknown) => ImportError): ImportError {
  if (e instanceof ImportError) return e;
  if (signal?.aborted || isAbortLike(e)) return abortedError(signal);
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return noSpaceError('in the staging or destination directory', e);
  return fallback(e);
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
