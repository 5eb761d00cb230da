/** Small file-system questions asked in several places. */
import { stat } from 'node:fs/promises';

/** True if `path` exists (following symlinks) and this process may see it. */
export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
