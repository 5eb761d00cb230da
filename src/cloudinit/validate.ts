/**
 * What a cloud-init seed may be made of, and the checks that every piece must pass before
 * a seed is rendered. Every failure is a HangarError `INVALID_SPEC` whose message names the
 * field the way the CLI does (`user-data`, `network-config`, `ssh key 2`, `hostname`, …).
 */
import { parseDocument, isMap, type Document } from 'yaml';
import { HangarError } from '../errors/errors.js';
import type { CloudInitSpec } from '../model/spec.js';

/** What the seed is built from: a VM's cloud-init settings (the model's CloudInitSpec) and its instance id. */
export interface CloudInitInput extends Omit<CloudInitSpec, 'format'> {
  /** cloud-init runs its once-per-instance modules again when this changes. */
  instanceId: string;
  /**
   * The machine-id the guest should have (32 lowercase hex digits: the VM's SMBIOS UUID, which
   * systemd takes on a fresh image's first boot). A guest whose disk was booted as another
   * machine (a clone, a VM made from an image of a VM) takes it on the first boot of its
   * instance: see machineIdBootcmd() in render.ts.
   */
  machineId?: string;
}

/** Largest user-data or network-config accepted (bytes, UTF-8). */
export const MAX_DOCUMENT_BYTES = 64 * 1024;
export const MAX_SSH_KEYS = 64;
export const MAX_SSH_KEY_BYTES = 16 * 1024;

/** YAML 1.1, as cloud-init's PyYAML reads it (`yes` is a boolean, `0755` is octal). */
export const YAML_OPTIONS = { version: '1.1', uniqueKeys: true, prettyErrors: true } as const;
const TO_JS = { maxAliasCount: 100 } as const;

export function invalid(message: string): HangarError {
  return new HangarError('INVALID_SPEC', message);
}

const SSH_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/**
 * Checks one authorized_keys line: `TYPE BASE64 [COMMENT]`, a type from the list above, and
 * a base64 blob that decodes to an SSH public key of that same type. Returns the line
 * trimmed. `what` names the key in messages.
 */
export function validateSshKey(line: string, what = 'ssh key'): string {
  if (typeof line !== 'string') throw invalid(`${what} must be a string`);
  const key = line.trim();
  if (key === '') throw invalid(`${what} is empty`);
  if (Buffer.byteLength(key) > MAX_SSH_KEY_BYTES) throw invalid(`${what} is longer than ${MAX_SSH_KEY_BYTES} bytes`);
  if (/[\r\n\0]/.test(key)) throw invalid(`${what} must be a single line`);
  const [type = '', blob = ''] = key.split(/[ \t]+/);
  if (key.includes('PRIVATE KEY')) throw invalid(`${what} is a private key; give the public key (the .pub file)`);
  if (!SSH_KEY_TYPES.has(type)) {
    throw invalid(`${what} has unsupported type '${type.slice(0, 40)}' (expected one of ${[...SSH_KEY_TYPES].join(', ')})`);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0) throw invalid(`${what}: the key data is not base64`);
  const raw = Buffer.from(blob, 'base64');
  // SSH wire format: uint32 length + the key type again, then the key material.
  const n = raw.length >= 4 ? raw.readUInt32BE(0) : -1;
  const inner = n > 0 && n <= 64 && raw.length > 4 + n ? raw.subarray(4, 4 + n).toString('latin1') : undefined;
  if (inner !== type) throw invalid(`${what}: the key data is not a ${type} public key`);
  return key;
}

/**
 * The keys in an authorized_keys-style file (`--ssh-key FILE`): one per line, blank lines and
 * `#` comments skipped, each validated. Lines with authorized_keys options are refused.
 */
export function parseSshKeyFile(text: string, what = 'ssh key file'): string[] {
  const keys: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    keys.push(validateSshKey(line, `${what} line ${i + 1}`));
  });
  if (keys.length === 0) throw invalid(`${what} holds no public key`);
  return keys;
}

const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function validateHostname(hostname: string): void {
  if (typeof hostname !== 'string' || hostname === '') throw invalid('hostname must not be empty');
  if (hostname.length > 253) throw invalid('hostname is longer than 253 characters');
  const labels = hostname.replace(/\.$/, '').split('.');
  for (const l of labels) {
    if (!LABEL_RE.test(l)) {
      throw invalid(
        `hostname '${hostname.slice(0, 80)}' is not valid: each dot-separated label must be 1-63 letters, digits or '-', not starting or ending with '-'`,
      );
    }
  }
  if (/^[0-9]+$/.test(labels[0] as string)) throw invalid(`hostname '${hostname}' is not valid: the first label must not be all digits`);
}

const RESERVED_USERS = new Set(['root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'nobody', 'systemd-network', 'systemd-resolve', 'messagebus', 'sshd', '_apt']);

export function validateUserName(user: string): void {
  if (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) {
    throw invalid(`user '${String(user).slice(0, 40)}' is not a valid user name: 1-32 lower-case letters, digits, '_' or '-', starting with a letter or '_'`);
  }
  if (RESERVED_USERS.has(user)) throw invalid(`user '${user}' is a system account; choose another name`);
}

const CRYPT_RE = /^\$(1|2[aby]|5|6|y|gy|7)\$[./0-9A-Za-z$=,]+$/;

export function validatePasswordHash(hash: string): void {
  if (typeof hash !== 'string' || !CRYPT_RE.test(hash) || hash.length > 512) {
    throw invalid('password hash is not a crypt(3) hash such as $6$… (hash the password with hashPassword first)');
  }
}

export function validateInstanceId(id: string): void {
  if (typeof id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) {
    throw invalid("instance-id must be 1-128 letters, digits, '.', '_', ':' or '-'");
  }
}

/** Parses YAML as cloud-init would, or throws "<what> is not valid YAML: line N, column M: …". */
export function parseYaml(text: string, what: string): Document.Parsed {
  const doc = parseDocument(text, YAML_OPTIONS);
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const first = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw invalid(`${what} is not valid YAML: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${first}`);
  }
  return doc;
}

function checkSize(text: unknown, what: string): asserts text is string {
  if (typeof text !== 'string') throw invalid(`${what} must be text`);
  const n = Buffer.byteLength(text, 'utf8');
  if (n > MAX_DOCUMENT_BYTES) throw invalid(`${what} is ${n} bytes; at most ${MAX_DOCUMENT_BYTES} (64 KiB) are accepted`);
  if (text.includes('\0')) throw invalid(`${what} must be text (it contains a NUL byte)`);
}

export type ParsedUserData =
  | { kind: 'cloud-config'; doc: Document.Parsed; config: Record<string, unknown> }
  | { kind: 'script' };

/** Checks custom user-data and says what it is. A `#cloud-config` must parse to a mapping (or be empty). */
export function parseUserData(text: string): ParsedUserData {
  checkSize(text, 'user-data');
  const firstLine = (text.split('\n')[0] ?? '').replace(/\r$/, '');
  if (firstLine.startsWith('#!')) return { kind: 'script' };
  if (!/^#cloud-config[ \t]*$/.test(firstLine)) {
    throw invalid(`user-data must start with '#cloud-config' (YAML) or '#!' (a script); it starts with '${firstLine.slice(0, 40)}'`);
  }
  const doc = parseYaml(text, 'user-data');
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw invalid('user-data is not a YAML mapping (#cloud-config needs keys such as packages:, runcmd:, users:)');
  }
  let config: unknown;
  try {
    config = doc.toJS(TO_JS);
  } catch (err) {
    throw invalid(`user-data is not valid YAML: ${(err as Error).message}`);
  }
  const cfg = (config ?? {}) as Record<string, unknown>;
  const users = cfg['users'];
  if (users !== undefined && users !== null && typeof users !== 'string' && !Array.isArray(users) && (typeof users !== 'object' || users instanceof Date)) {
    throw invalid('user-data: users must be a list, a mapping or a comma-separated string');
  }
  if (Array.isArray(users)) {
    users.forEach((u, i) => {
      if (typeof u === 'string') return;
      if (typeof u !== 'object' || u === null || Array.isArray(u) || typeof (u as Record<string, unknown>)['name'] !== 'string') {
        throw invalid(`user-data: users[${i}] must be a user name or a mapping with a name`);
      }
    });
  }
  const keys = cfg['ssh_authorized_keys'];
  if (keys !== undefined && keys !== null && !Array.isArray(keys) && typeof keys !== 'string') {
    throw invalid('user-data: ssh_authorized_keys must be a list of keys');
  }
  return { kind: 'cloud-config', doc, config: cfg };
}

const V2_KEYS = new Set(['version', 'renderer', 'ethernets', 'bonds', 'bridges', 'vlans', 'wifis']);

/** Checks network-config (v1 or v2, optionally under `network:`) and returns its mapping (unwrapped). */
export function parseNetworkConfig(text: string): Record<string, unknown> {
  checkSize(text, 'network-config');
  const doc = parseYaml(text, 'network-config');
  if (!isMap(doc.contents)) throw invalid('network-config is not a YAML mapping (expected version: 1 or version: 2)');
  let cfg: Record<string, unknown>;
  try {
    cfg = doc.toJS(TO_JS) as Record<string, unknown>;
  } catch (err) {
    throw invalid(`network-config is not valid YAML: ${(err as Error).message}`);
  }
  const inner = cfg['network'];
  if (inner !== undefined) {
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw invalid('network-config: network: must be a mapping');
    if (Object.keys(cfg).length !== 1) throw invalid('network-config: nothing may stand beside the top-level network: key');
    cfg = inner as Record<string, unknown>;
  }
  const version = cfg['version'];
  if (version === 1) {
    const config = cfg['config'];
    if (!Array.isArray(config)) throw invalid('network-config version 1 needs a config: list');
    config.forEach((item, i) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item) || typeof (item as Record<string, unknown>)['type'] !== 'string') {
        throw invalid(`network-config: config[${i}] must be a mapping with a type (physical, bond, bridge, vlan, nameserver, route)`);
      }
    });
  } else if (version === 2) {
    for (const [k, v] of Object.entries(cfg)) {
      if (!V2_KEYS.has(k)) throw invalid(`network-config version 2: unknown key '${k}' (expected ${[...V2_KEYS].join(', ')})`);
      if (k !== 'version' && k !== 'renderer' && (typeof v !== 'object' || v === null || Array.isArray(v))) {
        throw invalid(`network-config version 2: ${k} must be a mapping of interface names`);
      }
    }
  } else {
    throw invalid(`network-config must say version: 1 or version: 2 (got ${JSON.stringify(version) ?? 'nothing'})`);
  }
  return cfg;
}

/** Checks everything in `input`; throws HangarError INVALID_SPEC naming the first bad field. */
export function validateCloudInit(input: CloudInitInput): void {
  if (typeof input !== 'object' || input === null) throw invalid('cloud-init input must be an object');
  validateInstanceId(input.instanceId);
  if (input.machineId !== undefined && (typeof input.machineId !== 'string' || !/^[0-9a-f]{32}$/.test(input.machineId))) {
    throw invalid('machine-id must be 32 lowercase hex digits');
  }
  if (input.hostname !== undefined) validateHostname(input.hostname);
  if (input.user !== undefined) validateUserName(input.user);
  if (input.sshKeys !== undefined) {
    if (!Array.isArray(input.sshKeys)) throw invalid('ssh keys must be a list');
    if (input.sshKeys.length > MAX_SSH_KEYS) throw invalid(`at most ${MAX_SSH_KEYS} ssh keys are accepted`);
    input.sshKeys.forEach((k, i) => validateSshKey(k, `ssh key ${i + 1}`));
  }
  if (input.passwordHash !== undefined) validatePasswordHash(input.passwordHash);
  if (input.userData !== undefined) parseUserData(input.userData);
  if (input.networkConfig !== undefined) parseNetworkConfig(input.networkConfig);
}
