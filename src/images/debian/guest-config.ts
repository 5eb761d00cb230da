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

/**
 * The initramfs carries only these storage drivers (MODULES=list): the root disk on
 * virtio-blk, virtio-scsi, SATA (q35's AHCI), IDE (pc's PIIX) or NVMe, and ext4 (built into
 * Debian's cloud kernel, a module of the generic one). A small initramfs is also quicker for GRUB to read through the BIOS.
 */
export const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'ahci', 'ata_piix', 'nvme', 'ext4'];

/** SSH host key types generated on first boot (RSA is left out: slow to generate under TCG). */
export const SSH_HOST_KEY_TYPES = ['ed25519', 'ecdsa'] as const;

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
set timeout=0
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
# Host keys are made per instance; RSA is left out (seconds of CPU under emulation).
ssh_genkeytypes: [${SSH_HOST_KEY_TYPES.join(', ')}]
# There is no grub-pc package (GRUB is embedded by the image build): nothing to tell debconf.
grub_dpkg:
  enabled: false
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
    // The image ships without SSH host keys. cloud-init makes them per instance; without a
    // seed (cloud-init disabled) this unit makes them before sshd starts.
    f(
      'etc/systemd/system/hangar-ssh-hostkeys.service',
      `[Unit]
Description=Generate SSH host keys if there are none (first boot without cloud-init)
After=cloud-init.service
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
${SSH_HOST_KEY_TYPES.map((t) => `ExecStart=/usr/bin/ssh-keygen -q -t ${t} -N "" -f /etc/ssh/ssh_host_${t}_key`).join('\n')}

[Install]
WantedBy=ssh.service
`,
    ),
    f('etc/ssh/sshd_config.d/10-hangar-hostkeys.conf', SSH_HOST_KEY_TYPES.map((t) => `HostKey /etc/ssh/ssh_host_${t}_key\n`).join('')),
    f(
      'etc/initramfs-tools/modules',
      `# Written by Hangar's debian-12 recipe (MODULES=list): drivers for the root disk.\n${INITRAMFS_MODULES.join('\n')}\n`,
    ),
    // No swap, no hibernation: do not wait for a resume device at boot.
    // FSTYPE: the fsck hook cannot probe the root device from a chroot; without it the
    // initramfs has no e2fsck and the root filesystem is checked only later by systemd.
    f('etc/initramfs-tools/conf.d/hangar', 'MODULES=list\nCOMPRESS=zstd\nFSTYPE=ext4\n'),
    f('etc/initramfs-tools/conf.d/resume', 'RESUME=none\n'),
    f('boot/grub/grub.cfg', grubConfig({ rootUuid: input.rootUuid, cmdline: input.cmdline, title: 'Debian GNU/Linux 12 (Hangar)' })),
    f(
      'etc/hangar-image',
      `NAME=${input.imageName}\nRECIPE=${input.recipe}\nBUILT_AT=${input.builtAt}\nMIRROR=${input.mirror}\n`,
    ),
  ];
}
