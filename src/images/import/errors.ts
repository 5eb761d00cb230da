/**
 * Errors of the image import engine. Each carries a stable `code` of the engine's own, its
 * catalogue code for API clients (`toHangarError`), and a message that says what to do next.
 */
import { HangarError, type ConvertibleError, type ErrorCode } from '../../errors/errors.js';

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

/** What an API client sees for each import failure. */
const CATALOGUE_CODES: Record<ImportErrorCode, ErrorCode> = {
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH', DOWNLOAD_FAILED: 'DOWNLOAD_FAILED', UNSUPPORTED_FORMAT: 'UNSUPPORTED_FORMAT',
  UNSAFE_IMAGE: 'UNSAFE_IMAGE', NO_SPACE: 'STORAGE_FULL', ABORTED: 'INVALID_SPEC', BAD_SOURCE: 'INVALID_SPEC',
  BAD_OPTIONS: 'INVALID_SPEC', DEST_EXISTS: 'IMAGE_EXISTS', CONVERT_FAILED: 'STORAGE_FAILED',
};

export class ImportError extends Error implements ConvertibleError {
  readonly code: ImportErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ImportErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // An aborted import rejects with an AbortError, as the platform's own APIs do.
    this.name = code === 'ABORTED' ? 'AbortError' : 'ImportError';
    this.code = code;
    this.details = options?.details;
  }

  toHangarError(): HangarError {
    return new HangarError(CATALOGUE_CODES[this.code], this.message, { cause: this, ...(this.details && { details: this.details }) });
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

