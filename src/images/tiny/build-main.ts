/**
 * CLI: build (or reuse) the `tiny` starter image.
 *
 *   node dist/images/tiny/build-main.js [--cache-dir DIR] [--force]
 *
 * Progress goes to stderr; the manifest path is printed on stdout.
 * Default cache dir: $HANGAR_CACHE_DIR or /var/cache/hangar.
 */
import { runBuildCli } from '../build-common.js';
import { buildTinyImage, tinyManifestPath } from './build.js';

const USAGE = `usage: build-main [--cache-dir DIR] [--force]

Builds Hangar's starter image "tiny" (Debian cloud kernel + busybox initramfs) into
DIR/images/tiny, or reuses it if already built. DIR defaults to $HANGAR_CACHE_DIR or
/var/cache/hangar. Needs apt-get, apt-cache and dpkg-deb, and access to a Debian mirror.
`;

runBuildCli({
  imageName: 'tiny',
  usage: USAGE,
  build: buildTinyImage,
  summary: (m) => `kernel ${m.kernelVersion}, built ${m.builtAt}`,
  manifestPath: tinyManifestPath,
});
