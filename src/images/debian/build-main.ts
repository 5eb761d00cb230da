/**
 * CLI: build (or reuse) the built-in `debian-12` image.
 *
 *   node dist/images/debian/build-main.js [--cache-dir DIR] [--force]
 *
 * Progress goes to stderr; the manifest path is printed on stdout.
 * Default cache dir: $HANGAR_CACHE_DIR or /var/cache/hangar.
 */
import { runBuildCli } from '../build-common.js';
import { buildDebianImage, debianManifestPath } from './build.js';

const USAGE = `usage: build-main [--cache-dir DIR] [--force]

Builds Hangar's built-in image "debian-12" (Debian 12 with systemd, cloud-init,
qemu-guest-agent and openssh-server on a BIOS-bootable qcow2 disk) into
DIR/images/debian-12, or reuses it if already built. DIR defaults to $HANGAR_CACHE_DIR or
/var/cache/hangar. Runs as root; needs debootstrap, e2fsprogs, grub-common, grub-pc-bin
and qemu-utils, and the Debian mirror the host's apt uses (override it with
HANGAR_DEBIAN_MIRROR=http://...). The first build takes minutes; downloaded packages are
kept in DIR/debootstrap for rebuilds.
`;

runBuildCli({
  imageName: 'debian-12',
  usage: USAGE,
  build: buildDebianImage,
  summary: (m) =>
    `kernel ${m.kernelVersion}, ${(m.fileSizeBytes / 2 ** 20).toFixed(0)} MiB qcow2 ` +
    `(${(m.virtualSizeBytes / 2 ** 30).toFixed(1)} GiB virtual), built ${m.builtAt}`,
  manifestPath: debianManifestPath,
});
