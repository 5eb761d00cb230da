/** Image import: from a local file or an http(s) URL, verified, converted to qcow2, atomically visible. */
export { importImage, cleanupImportStaging, destFileName } from './import.js';
export type { ImportSource, ImportOptions, ImportResult, CleanupResult } from './import.js';
export type { ImportProgress, ImportPhase } from './progress.js';
export { ImportError, isImportError } from './errors.js';
export type { ImportErrorCode } from './errors.js';
