/**
 * CLI: build (or reuse) the built-in `debian-12-uefi` image.
 *
 *   node dist/images/debian/build-uefi-main.js [--cache-dir DIR] [--force]
 *
 * Progress goes to stderr; the manifest path is printed on stdout.
 * Default cache dir: $HANGAR_CACHE_DIR or /var/cache/hangar.
 */
import { runBuildCli } from '../build-common.js';
import { buildDebianImage, DEBIAN_12_UEFI, debianManifestPath } from './build.js';

const USAGE = `usage: build-uefi-main [--cache-dir DIR] [--force]

Builds Hangar's built-in image "debian-12-uefi" (Debian 12 with the generic kernel,
cloud-init, qemu-guest-agent, openssh-server and tpm2-tools on a disk that boots under UEFI
with Secure Boot, through Debian's signed shim and GRUB, and under BIOS) into
DIR/images/debian-12-uefi, or reuses it if already built. DIR defaults to $HANGAR_CACHE_DIR or
/var/cache/hangar. Runs as root; needs what debian-12 needs plus mtools, shim-signed and
grub-efi-amd64-signed. Shares debian-12's package cache in DIR/debootstrap.
`;

runBuildCli({
  imageName: 'debian-12-uefi',
  usage: USAGE,
  build: (cacheDir, opts) => buildDebianImage(cacheDir, opts, DEBIAN_12_UEFI),
  summary: (m) =>
    `kernel ${m.kernelVersion}, ${(m.fileSizeBytes / 2 ** 20).toFixed(0)} MiB qcow2 ` +
    `(${(m.virtualSizeBytes / 2 ** 30).toFixed(1)} GiB virtual), built ${m.builtAt}`,
  manifestPath: (dir) => debianManifestPath(dir, DEBIAN_12_UEFI),
});
