/**
 * cloud-init user data for a warm clone (`vm create --from-template T --user-data FILE`):
 * the clone's guest booted long ago as the template, so its user data is applied through the
 * guest agent once its identity is in place, before it is reported ready.
 *
 * - A `#!` script runs as root (its exit status decides).
 * - `#cloud-config`: each top-level key's cloud-init module is run with `cloud-init --file …
 *   single --name MODULE --frequency always` (so per-instance modules run again for the
 *   clone); keys whose module cannot run this late (they belong to the boot: disk setup,
 *   growpart, network…) are refused before anything is made.
 */
import { parse } from 'yaml';
import { HangarError } from '../errors/errors.js';

export const USER_DATA_MAX_BYTES = 64 * 1024;

/** cloud-config keys a clone can apply, and the modules that apply them (in cloud-init's order). */
const MODULES: Record<string, string[]> = {
  bootcmd: ['bootcmd'],
  write_files: ['write_files'],
  groups: ['users_groups'],
  users: ['users_groups'],
  timezone: ['timezone'],
  ca_certs: ['ca_certs'],
  apt: ['apt_configure'],
  packages: ['package_update_upgrade_install'],
  package_update: ['package_update_upgrade_install'],
  package_upgrade: ['package_update_upgrade_install'],
  runcmd: ['runcmd', 'scripts_user'],
  final_message: ['final_message'],
};
/** cloud-init's module order: each module once. */
const ORDER = ['bootcmd', 'write_files', 'users_groups', 'timezone', 'ca_certs', 'apt_configure', 'package_update_upgrade_install', 'runcmd', 'scripts_user', 'final_message'];

/** The guest program: user data on stdin; argv: the cloud-init modules (none for a script). */
export const USER_DATA_PROGRAM = `set -e
f=/run/hangar-clone-user-data
umask 077
cat > "$f"
if [ "$#" -eq 0 ]; then chmod 700 "$f"; exec "$f"; fi
for m in "$@"; do cloud-init --file "$f" single --name "$m" --frequency always; done
rm -f "$f"`;

/** Checks the user data and returns the guest command that applies it. INVALID_SPEC for what a clone cannot apply. */
export function userDataExec(userData: string): { argv: string[]; input: string; modules: string[] } {
  const bad = (why: string) => new HangarError('INVALID_SPEC', `userData: ${why}`, { details: { field: 'userData' } });
  if (typeof userData !== 'string' || userData.length === 0) throw bad('empty.');
  if (Buffer.byteLength(userData) > USER_DATA_MAX_BYTES) throw bad(`more than ${USER_DATA_MAX_BYTES / 1024} KiB.`);
  if (userData.startsWith('#!')) return { argv: ['sh', '-c', USER_DATA_PROGRAM, 'hangar-user-data'], input: userData, modules: [] };
  if (!/^#cloud-config[ \t]*\r?\n/.test(userData)) throw bad('a warm clone takes a #cloud-config document or a #! script.');
  let doc: unknown;
  try {
    doc = parse(userData);
  } catch (e) {
    throw bad(`not valid YAML (${e instanceof Error ? e.message.split('\n')[0] : String(e)}).`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad('the #cloud-config document must be a mapping.');
  const keys = Object.keys(doc as object);
  const unknown = keys.filter((k) => !MODULES[k]);
  if (unknown.length) {
    throw bad(`a warm clone cannot apply ${unknown.map((k) => `"${k}"`).join(', ')} (they belong to a first boot); it applies ${Object.keys(MODULES).join(', ')}.`);
  }
  const wanted = new Set(keys.flatMap((k) => MODULES[k]!));
  const modules = ORDER.filter((m) => wanted.has(m));
  return { argv: ['sh', '-c', USER_DATA_PROGRAM, 'hangar-user-data', ...modules], input: userData, modules };
}
