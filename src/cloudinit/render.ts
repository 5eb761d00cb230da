/**
 * Renders a CloudInitInput into the files of a seed:
 *  - NoCloud (volume label `cidata`): meta-data, user-data, network-config;
 *  - config-drive v2 (volume label `config-2`, for cloudbase-init and cloud-init's
 *    ConfigDrive source): openstack/latest/{meta_data.json,user_data,network_data.json}.
 *
 * The options (user, keys, password hash) become a generated #cloud-config. Custom
 * #cloud-config user-data is merged into it at the YAML level (its comments and formatting
 * survive): custom keys win, except that `users` and `ssh_authorized_keys` lists are
 * concatenated, a custom user with the generated user's name being merged into it. A custom
 * `#!` script is combined with the generated cloud-config as a MIME multipart/mixed message
 * (cloud-init and cloudbase-init both read it). Pure functions: same input, same output.
 *
 * With a machineId, the generated config also carries a `bootcmd` that gives a guest booted
 * from another machine's disk its own /etc/machine-id (custom `bootcmd` entries follow it).
 */
import { createHash } from 'node:crypto';
import { isMap, stringify, type Document, type YAMLMap } from 'yaml';
import { toNetworkData } from './network-data.js';
import {
  parseNetworkConfig,
  parseUserData,
  parseYaml,
  validateCloudInit,
  YAML_OPTIONS,
  type CloudInitInput,
} from './validate.js';

export type NoCloudFiles = { 'meta-data': string; 'user-data': string; 'network-config'?: string };

export const SUDO_ALL = 'ALL=(ALL) NOPASSWD:ALL';
const STRINGIFY = { ...YAML_OPTIONS, lineWidth: 0 } as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * The bootcmd entry that makes `machineId` the guest's machine-id, once per instance
 * (`cloud-init-per instance`: its marker lives under the instance id, so a clone, whose
 * instance id is new, runs it again). A fresh image's guest already has it (systemd takes the
 * SMBIOS UUID at first boot), so nothing changes; a disk booted as another machine keeps that
 * machine's id, from which systemd-networkd derives its DHCP client id (two clones on one
 * network would share a lease) and journald names its directory. bootcmd is the earliest
 * user-data hook (cloud-init's network stage, after the first DHCP exchange): journald and
 * networkd are restarted to take the new id, and the command waits (up to 30 s) for the
 * network to be up again before cloud-init goes on.
 */
export function machineIdBootcmd(machineId: string): string[] {
  const script = [
    `id=${machineId}`,
    '[ "$(cat /etc/machine-id 2>/dev/null)" = "$id" ] && exit 0',
    'echo "hangar: machine-id $(cat /etc/machine-id 2>/dev/null) belongs to another machine, taking $id"',
    'printf \'%s\\n\' "$id" > /etc/machine-id',
    '[ ! -e /var/lib/dbus/machine-id ] || [ -L /var/lib/dbus/machine-id ] || ln -sf /etc/machine-id /var/lib/dbus/machine-id',
    'systemctl try-restart systemd-journald.service',
    'if systemctl -q is-active systemd-networkd.service; then systemctl restart systemd-networkd.service && /lib/systemd/systemd-networkd-wait-online --any --timeout=30 || true; fi',
  ].join('\n');
  return ['cloud-init-per', 'instance', 'hangar-machine-id', 'sh', '-c', script];
}

/** The #cloud-config the options alone call for, or undefined if they call for none. */
export function generatedCloudConfig(input: CloudInitInput): Obj | undefined {
  const keys = input.sshKeys?.map((k) => k.trim()) ?? [];
  const cfg: Obj = {};
  if (input.user !== undefined) {
    const u: Obj = { name: input.user, sudo: SUDO_ALL, shell: '/bin/bash' };
    if (keys.length) u['ssh_authorized_keys'] = keys;
    if (input.passwordHash !== undefined) {
      u['lock_passwd'] = false;
      u['passwd'] = input.passwordHash;
    }
    cfg['users'] = [u];
  } else {
    // No user named: keys and password go to the image's default user.
    if (keys.length) cfg['ssh_authorized_keys'] = keys;
    if (input.passwordHash !== undefined) {
      cfg['password'] = input.passwordHash; // cloud-init recognises a $6$ hash and uses chpasswd -e
      cfg['chpasswd'] = { expire: false };
    }
  }
  if (input.passwordHash !== undefined) cfg['ssh_pwauth'] = true;
  if (input.machineId !== undefined) cfg['bootcmd'] = [machineIdBootcmd(input.machineId)];
  return Object.keys(cfg).length ? cfg : undefined;
}

/** cloud-init's accepted forms of `users` (list, "a, b" string, {name: config} mapping) as a list. */
function usersList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v)) return v;
  if (isObj(v)) return Object.entries(v).map(([name, cfg]) => ({ name, ...(isObj(cfg) ? cfg : {}) }));
  return [v];
}

function keyList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function union(a: unknown[], b: unknown[]): unknown[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}

export function mergeUsers(generated: unknown[], custom: unknown): unknown[] {
  const out = generated.map((u) => (isObj(u) ? { ...u } : u));
  for (const cu of usersList(custom)) {
    const i = isObj(cu) ? out.findIndex((g) => isObj(g) && g['name'] === cu['name']) : -1;
    const g = out[i];
    if (isObj(cu) && isObj(g)) {
      const keys = union(keyList(g['ssh_authorized_keys']), keyList(cu['ssh_authorized_keys']));
      out[i] = { ...g, ...cu, ...(keys.length ? { ssh_authorized_keys: keys } : {}) };
    } else if (!out.includes(cu)) {
      out.push(cu);
    }
  }
  return out;
}

/** Generated config merged into custom #cloud-config text; custom keys win, lists (users, keys, bootcmd) concatenated. */
function mergeIntoCustom(gen: Obj, customText: string): string {
  // Blank out the '#cloud-config' line (line numbers stay) so it is not taken for a comment on the first key.
  const doc: Document.Parsed = parseYaml(customText.replace(/^[^\n]*/, ''), 'user-data');
  const custom = (doc.toJS({ maxAliasCount: 100 }) ?? {}) as Obj;
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const map = doc.contents as unknown as YAMLMap;
  const prepend: unknown[] = [];
  for (const [k, v] of Object.entries(gen)) {
    const has = custom[k] !== undefined && custom[k] !== null;
    if (k === 'users' && has) doc.set(k, doc.createNode(mergeUsers(v as unknown[], custom[k])));
    else if (k === 'ssh_authorized_keys' && has) doc.set(k, doc.createNode(union(v as unknown[], keyList(custom[k]))));
    else if (k === 'bootcmd' && has) doc.set(k, doc.createNode([...(v as unknown[]), ...keyList(custom[k])]));
    else if (!has) {
      if (map.has(k)) map.delete(k); // an explicit null
      prepend.push(doc.createPair(k, v));
    }
  }
  map.items.unshift(...(prepend as typeof map.items));
  return `#cloud-config\n${doc.toString(STRINGIFY)}`;
}

function mimePart(contentType: string, filename: string, body: string): string {
  // eslint-disable-next-line no-control-regex
  const ascii = /^[\x00-\x7f]*$/.test(body);
  const text = ascii ? body : (Buffer.from(body, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\n');
  return [
    `Content-Type: ${contentType}; charset="utf-8"`,
    'MIME-Version: 1.0',
    `Content-Transfer-Encoding: ${ascii ? '7bit' : 'base64'}`,
    `Content-Disposition: attachment; filename="${filename}"`,
    '',
    text.endsWith('\n') ? text : `${text}\n`,
  ].join('\n');
}

/** multipart/mixed user-data: the generated cloud-config, then the custom script. */
export function multipart(cloudConfig: string, script: string): string {
  const boundary = `===============hangar${createHash('sha256').update(cloudConfig).update('\0').update(script).digest('hex').slice(0, 24)}==`;
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    `--${boundary}`,
    mimePart('text/cloud-config', 'hangar.cfg', cloudConfig),
    `--${boundary}`,
    mimePart('text/x-shellscript', 'user-script', script),
    `--${boundary}--`,
    '',
  ].join('\n');
}

/** The user-data file: generated cloud-config, merged with or wrapped around the custom part. */
export function renderUserData(input: CloudInitInput): string {
  const gen = generatedCloudConfig(input);
  const custom = input.userData;
  if (custom === undefined) return gen ? `#cloud-config\n${stringify(gen, STRINGIFY)}` : '#cloud-config\n';
  const parsed = parseUserData(custom);
  if (!gen) return custom;
  if (parsed.kind === 'script') return multipart(`#cloud-config\n${stringify(gen, STRINGIFY)}`, custom);
  return mergeIntoCustom(gen, custom);
}

/** NoCloud seed files (volume label `cidata`). Validates the input first. */
export function renderNoCloud(input: CloudInitInput): NoCloudFiles {
  validateCloudInit(input);
  const meta: Obj = { 'instance-id': input.instanceId };
  if (input.hostname !== undefined) meta['local-hostname'] = input.hostname;
  const files: NoCloudFiles = { 'meta-data': stringify(meta, STRINGIFY), 'user-data': renderUserData(input) };
  if (input.networkConfig !== undefined) files['network-config'] = input.networkConfig;
  return files;
}

export const CONFIG_DRIVE_DIR = 'openstack/latest';

/**
 * Config-drive v2 files (volume label `config-2`), keyed by their path inside the ISO.
 * meta_data.json carries uuid (the instance id), hostname/name and public_keys; user_data
 * is the same as NoCloud's (present when there is any); network_data.json is the
 * network-config converted to OpenStack's format (see network-data.ts).
 */
export function renderConfigDrive(input: CloudInitInput): Record<string, string> {
  validateCloudInit(input);
  const keys = input.sshKeys?.map((k) => k.trim()) ?? [];
  const publicKeys: Record<string, string> = {};
  keys.forEach((k, i) => (publicKeys[`key-${i}`] = k));
  const meta: Obj = {
    uuid: input.instanceId,
    name: input.hostname ?? input.instanceId,
    ...(input.hostname !== undefined ? { hostname: input.hostname } : {}),
    launch_index: 0,
    availability_zone: 'hangar',
    public_keys: publicKeys,
    keys: keys.map((k, i) => ({ name: `key-${i}`, type: 'ssh', data: k })),
  };
  const files: Record<string, string> = { [`${CONFIG_DRIVE_DIR}/meta_data.json`]: `${JSON.stringify(meta, null, 2)}\n` };
  const userData = renderUserData(input);
  if (userData !== '#cloud-config\n') files[`${CONFIG_DRIVE_DIR}/user_data`] = userData;
  if (input.networkConfig !== undefined) {
    const net = toNetworkData(parseNetworkConfig(input.networkConfig));
    files[`${CONFIG_DRIVE_DIR}/network_data.json`] = `${JSON.stringify(net, null, 2)}\n`;
  }
  return files;
}
