/**
 * swtpm, the software TPM behind a VM's vTPM: its command line (pure), finding its binary,
 * and launching it detached like QEMU (own session, output to a log, pid + start time).
 *
 * One swtpm per running VM, as the guest's own user. It serves QEMU's `tpm-emulator` on a
 * unix control socket (QEMU passes the data channel over it), keeps the TPM's permanent
 * state in a directory of the VM's own, and with `--terminate` exits when QEMU's connection
 * goes (QEMU quit, crashed or was killed). TPM 2.0 needs no `swtpm_setup` here: swtpm 0.7
 * manufactures a fresh TPM on the first start in an empty state directory (no EK
 * certificate, which no guest here needs), and the firmware sends TPM2_Startup.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { HangarError } from '../errors/errors.js';
import { launchQemu, type LaunchedQemu } from './process.js';

export const SWTPM_BINARY = 'swtpm';

export interface SwtpmFiles {
  /** The TPM's permanent state (tpm2-00.permall), kept across starts. */
  stateDir: string;
  /** The control socket QEMU's chardev connects to. */
  ctrlSocket: string;
  pidFile: string;
  /** swtpm's own log (it opens it itself, refusing symlinks: not a descriptor the daemon opened). */
  logFile: string;
}

/** `swtpm socket …` arguments (without the binary) for one VM's TPM 2.0. */
export function swtpmArgv(files: SwtpmFiles): string[] {
  for (const [key, path] of Object.entries(files)) {
    // Daemon-chosen paths; a comma would split swtpm's option syntax (it has no escape for it).
    // eslint-disable-next-line no-control-regex
    if (!path.startsWith('/') || /[,\u0000-\u001f]/.test(path)) {
      throw new HangarError('INTERNAL', `swtpm ${key} must be an absolute path without commas or control characters: ${JSON.stringify(path)}`);
    }
  }
  return [
    'socket',
    '--tpm2',
    '--tpmstate', `dir=${files.stateDir},mode=0600`,
    '--ctrl', `type=unixio,path=${files.ctrlSocket},mode=0600`,
    '--log', `file=${files.logFile}`,
    '--pid', `file=${files.pidFile}`,
    // Exit once QEMU's data channel closes: swtpm never outlives its QEMU.
    '--terminate',
  ];
}

/**
 * The swtpm binary to run: `configured` (a path, or a name looked up in PATH), default
 * `swtpm`. Throws TPM_UNAVAILABLE when it is not an executable file.
 */
export function resolveSwtpm(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const wanted = configured ?? SWTPM_BINARY;
  const candidates = wanted.includes('/') ? [wanted] : (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).filter(Boolean).map((d) => join(d, wanted));
  for (const c of candidates) if (isExecutableFile(c)) return c;
  throw new HangarError(
    'TPM_UNAVAILABLE',
    `A TPM needs swtpm, which is not installed here (${wanted.includes('/') ? `${wanted} is not an executable file` : `no ${wanted} in PATH`}): install Debian's swtpm and swtpm-tools (apt-get install swtpm swtpm-tools), or point the daemon at it with --swtpm PATH.`,
    { details: { field: 'tpm', swtpm: wanted } },
  );
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Spawns swtpm detached (as `user` when given); anything it prints goes to its log file too. */
export function launchSwtpm(binary: string, files: SwtpmFiles, user?: { uid: number; gid: number }): LaunchedQemu {
  return launchQemu(binary, swtpmArgv(files), files.logFile, user);
}

/** Whether a command line is a swtpm serving a control socket under `dir` (for orphan clean-up). */
export function isSwtpmUnder(argv: readonly string[], dir: string): string | undefined {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  if (!/(^|\/)swtpm$/.test(argv[0] ?? '') || argv[1] !== 'socket') return undefined;
  const i = argv.indexOf('--ctrl');
  const m = i >= 0 ? /(?:^|,)path=([^,]+)/.exec(argv[i + 1] ?? '') : null;
  return m?.[1]?.startsWith(prefix) ? m[1] : undefined;
}
