/** Before the integration tests: the built CLI and the cached `tiny` image must exist. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildTinyImage, defaultCacheDir } from '../../src/images/tiny/build.js';
import { buildDebianImage, DEBIAN_12_UEFI } from '../../src/images/debian/build.js';
import { ROOT } from './harness.js';

export default async function setup(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'bin.js'))) {
    throw new Error('Hangar is not built: run `npm run build` (npm test does it) before the integration tests.');
  }
  await buildTinyImage(defaultCacheDir(), { onProgress: (m) => process.stderr.write(`[tiny] ${m}\n`) });
  await buildDebianImage(defaultCacheDir(), { onProgress: (m) => process.stderr.write(`[debian-12] ${m}\n`) });
  await buildDebianImage(defaultCacheDir(), { onProgress: (m) => process.stderr.write(`[debian-12-uefi] ${m}\n`) }, DEBIAN_12_UEFI);
}
