/**
 * The files the `debian-12` recipe writes into the debootstrapped root filesystem, as pure
 * data (so they can be unit tested and reviewed in one place). build.ts writes them and
 * runs the few commands that need the guest's own tools (systemctl, update-initramfs).
 */

export interface GuestFile {
  /** Path inside the guest, without the leading slash. */
  path: string;
  content: string;
  mode: number;
}

export interface GuestConfigInput {
  /** UUID of the ext4 root filesystem. */
  rootUuid: string;
  /** Debian mirror, e.g. http://deb.debian.org/debian */
  mirror: string;
  /** Security archive, e.g. http://deb.debian.org/debian-security, if the host uses one. */
  securityMirror?: string;
  suite: string;
  /** Kernel command line GRUB passes (everything but BOOT_IMAGE). */
  cmdline: string;
  imageName: string;
  builtAt: string;
  recipe: number;
}

/** cloud-init sources, in order; `None` keeps cloud-init from probing network metadata services. */
export const CLOUD_INIT_DATASOURCES = ['NoCloud', 'ConfigDrive', 'None'] as const;

export const DEFAULT_USER = 'debian';

/** The root filesystem's label (also usable as root=LABEL=...). */
export const ROOT_LABEL = 'debian-root';

/** Modules the initramfs must carry to find the root disk on virtio (blk or scsi). */
export const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'virtio_net', 'virtio_console'];

export function kernelCmdline(rootUuid: string): string {
  // Serial last, so /dev/console (and systemd's status output) is ttyS0.
  return `root=UUID=${rootUuid} ro console=tty0 console=ttyS0,115200n8`;
}

export function grubConfig(input: { rootUuid: string; cmdline: string; title: string }): string {
  return `# Written by Hangar's debian-12 image recipe. The kernel and initramfs are the
# /vmlinuz and /initrd.img symlinks that Debian's kernel packages keep up to date,
# so kernel upgrades inside the guest need no GRUB tooling.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
search --no-floppy --fs-uuid --set=root ${input.rootUuid}

menuentry '${input.title}' {
  linux /vmlinuz ${input.cmdline}
  initrd /initrd.img
}

menuentry '${input.title} (previous kernel)' {
  linux /vmlinuz.old ${input.cmdline}
  initrd /initrd.img.old
}
`;
}

export function guestFiles(input: GuestConfigInput): GuestFile[] {
  const f = (path: string, content: string, mode = 0o644): GuestFile => ({ path, content, mode });
  const sources = [
    `deb ${input.mirror} ${input.suite} main`,
    `deb ${input.mirror} ${input.suite}-updates main`,
    ...(input.securityMirror ? [`deb ${input.securityMirror} ${input.suite}-security main`] : []),
  ];
  return [
    f('etc/fstab', `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${input.rootUuid} / ext4 rw,discard,errors=remount-ro 0 1\n`),
    // cloud-init replaces these from the seed's local-hostname (and manages /etc/hosts).
    f('etc/hostname', 'debian\n'),
    f('etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n'),
    f('etc/apt/sources.list', `${sources.join('\n')}\n`),
    f('etc/default/locale', 'LANG=C.UTF-8\n'),
    f(
      'etc/cloud/cloud.cfg.d/90-hangar.cfg',
      `# Hangar: only local seeds (a NoCloud "cidata" volume or a config drive), never a
# network metadata service, so a guest without a seed boots without minutes of probing.
datasource_list: [${CLOUD_INIT_DATASOURCES.join(', ')}]
# Keep /etc/hosts in step with the hostname from the seed (sudo wants it resolvable).
manage_etc_hosts: true
locale: C.UTF-8
# Keep the mirror the image was built with.
apt:
  preserve_sources_list: true
`,
    ),
    // DHCP on any Ethernet NIC whatever its name; cloud-init's own (lower-numbered) file wins
    // when the seed carries a network-config.
    f(
      'etc/systemd/network/99-hangar-dhcp.network',
      `[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseDomains=yes\n`,
    ),
    // Boot does not wait 2 minutes for NICs that never come up: one configured link is enough.
    f(
      'etc/systemd/system/systemd-networkd-wait-online.service.d/10-hangar.conf',
      `[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n`,
    ),
    // The image ships without SSH host keys; make sure sshd has some even when cloud-init
    // did not run (no seed), and still check the config before starting.
    f(
      'etc/systemd/system/ssh.service.d/10-hangar-hostkeys.conf',
      `[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n`,
    ),
    f(
      'etc/initramfs-tools/modules',
      `# Written by Hangar's debian-12 recipe: the root disk is virtio (blk or scsi).\n${INITRAMFS_MODULES.join('\n')}\n`,
    ),
    // No swap, no hibernation: do not wait for a resume device at boot.
    f('etc/initramfs-tools/conf.d/resume', 'RESUME=none\n'),
    f('boot/grub/grub.cfg', grubConfig({ rootUuid: input.rootUuid, cmdline: input.cmdline, title: 'Debian GNU/Linux 12 (Hangar)' })),
    f(
      'etc/hangar-image',
      `NAME=${input.imageName}\nRECIPE=${input.recipe}\nBUILT_AT=${input.builtAt}\nMIRROR=${input.mirror}\n`,
    ),
  ];
}
