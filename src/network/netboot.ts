/**
 * Network boot on a managed network (libvirt's `<tftp root=…/>` and `<dhcp><bootp file=…
 * server=…/></dhcp>`): the network's dnsmasq serves a directory over TFTP and hands DHCP
 * clients (the NIC's iPXE ROM) a boot file name.
 *
 *   tftpRoot    absolute path of an existing directory the host serves read-only over TFTP
 *               (dnsmasq runs as `nobody`: what it serves must be world-readable).
 *   bootFile    the file DHCP names: a relative path under the TFTP root (or on bootServer).
 *   bootServer  the TFTP server's IPv4 address, when it is another host than the gateway.
 *
 * dnsmasq is spawned with an argv array, but several of its options are themselves
 * comma-separated lists (`--dhcp-boot=FILE,NAME,ADDR`): commas, control characters and
 * anything but plain path characters are refused, so no value can add a dnsmasq option.
 */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { parseIPv4 } from './addr.js';

export interface NetbootSpec {
  tftpRoot?: string;
  bootFile?: string;
  bootServer?: string;
}

/** A path segment: letters, digits, `.`, `_`, `+`, `-` (and never `.` or `..` alone). */
const SEGMENT = /^[A-Za-z0-9._+-]+$/;
/** The DHCP header's `file` field holds 128 bytes. */
const BOOT_FILE_MAX = 127;
const ROOT_MAX = 1024;

function invalid(network: string, field: keyof NetbootSpec, why: string): HangarError {
  return new HangarError('INVALID_SPEC', `Network "${network}": ${why}`, { details: { field } });
}

/** Shape checks (no host access): what ensure() re-checks at every daemon start. */
export function checkNetbootShape(name: string, spec: NetbootSpec & { parent?: string }): void {
  const { tftpRoot, bootFile, bootServer } = spec;
  if (tftpRoot === undefined && bootFile === undefined && bootServer === undefined) return;
  if (spec.parent !== undefined) {
    const field = tftpRoot !== undefined ? 'tftpRoot' : bootFile !== undefined ? 'bootFile' : 'bootServer';
    throw invalid(name, field, 'a --parent network runs no DHCP or TFTP server of ours: network boot needs a managed network.');
  }
  if (tftpRoot !== undefined) {
    if (!isAbsolute(tftpRoot)) throw invalid(name, 'tftpRoot', `the TFTP root "${tftpRoot}" must be an absolute path (e.g. /srv/tftp).`);
    const segs = tftpRoot.split('/').filter((s) => s !== '');
    if (tftpRoot.length > ROOT_MAX || segs.length === 0 || !segs.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
      throw invalid(name, 'tftpRoot', `the TFTP root ${JSON.stringify(tftpRoot)} must be a directory other than / whose path has only letters, digits, ".", "_", "+", "-" and "/" (no "..", commas or spaces).`);
    }
  }
  if (bootFile !== undefined) {
    const segs = bootFile.split('/');
    if (bootFile.length === 0 || bootFile.length > BOOT_FILE_MAX || bootFile.startsWith('/') || !segs.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
      throw invalid(name, 'bootFile', `the boot file ${JSON.stringify(bootFile)} must be a relative path under the TFTP root (at most ${BOOT_FILE_MAX} characters: letters, digits, ".", "_", "+", "-" and "/"; no "..", commas or spaces), e.g. pxelinux.0 or boot.ipxe.`);
    }
    if (tftpRoot === undefined && bootServer === undefined) {
      throw invalid(name, 'bootFile', 'a boot file needs --tftp-root (served by this network) or --boot-server (another TFTP server).');
    }
  }
  if (bootServer !== undefined) {
    if (bootFile === undefined) throw invalid(name, 'bootServer', '--boot-server names where the boot file is: give --boot-file too.');
    if (parseIPv4(bootServer) === undefined) throw invalid(name, 'bootServer', `the boot server "${bootServer}" must be an IPv4 address.`);
  }
}

/** At create: the TFTP root exists and is a directory (a symlink to one is followed). */
export function checkNetbootHost(name: string, spec: NetbootSpec): void {
  if (spec.tftpRoot === undefined) return;
  let st;
  try {
    st = statSync(spec.tftpRoot);
  } catch {
    throw invalid(name, 'tftpRoot', `the TFTP root ${spec.tftpRoot} does not exist: create it (and put the boot files in it) first.`);
  }
  if (!st.isDirectory()) throw invalid(name, 'tftpRoot', `the TFTP root ${spec.tftpRoot} is not a directory.`);
}

/** The TFTP root without doubled or trailing slashes (`.` and `..` are left for the checks to refuse). */
export function normalTftpRoot(root: string): string {
  const n = root.replace(/\/{2,}/g, '/');
  return n.length > 1 ? n.replace(/\/$/, '') : n;
}

/** dnsmasq arguments for network boot (none when the network has no netboot settings). */
export function netbootArgs(spec: NetbootSpec): string[] {
  const out: string[] = [];
  // --tftp-no-fail: a TFTP root removed later must not take the network's DHCP and DNS down with it.
  if (spec.tftpRoot !== undefined) out.push('--enable-tftp', `--tftp-root=${spec.tftpRoot}`, '--tftp-no-fail');
  if (spec.bootFile !== undefined) out.push(`--dhcp-boot=${spec.bootFile}${spec.bootServer !== undefined ? `,,${spec.bootServer}` : ''}`);
  return out;
}
