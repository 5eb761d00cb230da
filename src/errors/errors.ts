/**
 * The one error catalogue. Every failure a client can see has a stable `code`,
 * an HTTP status, and a message that says what to do next.
 */

export const ERROR_CATALOGUE = {
  INVALID_SPEC: { status: 400, title: 'The request is not valid' },
  INVALID_NAME: { status: 400, title: 'The name is not valid' },
  NOT_FOUND: { status: 404, title: 'No such resource' },
  VM_NOT_FOUND: { status: 404, title: 'No such VM' },
  IMAGE_NOT_FOUND: { status: 404, title: 'No such image' },
  IMAGE_NOT_READY: { status: 409, title: 'The image is not ready' },
  VM_EXISTS: { status: 409, title: 'A VM with that name exists' },
  VM_BUSY: { status: 409, title: 'Another operation is running on this VM' },
  VM_STATE: { status: 409, title: 'The VM is not in a state that allows this' },
  CONSOLE_UNAVAILABLE: { status: 409, title: 'The VM has no such console' },
  HOST_CAPACITY: { status: 409, title: 'The host does not have the capacity' },
  HUGEPAGES_UNAVAILABLE: { status: 409, title: 'The host does not have enough free hugepages' },
  HOST_NO_IOMMU: { status: 409, title: 'The host has no IOMMU for PCI passthrough' },
  HOSTDEV_UNAVAILABLE: { status: 409, title: 'The host PCI device cannot be passed through' },
  FIRMWARE_UNAVAILABLE: { status: 409, title: 'No firmware on this host matches' },
  HOST_DEVICE_UNAVAILABLE: { status: 409, title: 'The host lacks a device or helper the VM needs (USB device, /dev/vhost-vsock, virtiofsd)' },
  SHARE_PATH_NOT_ALLOWED: { status: 403, title: 'The shared folder is outside the roots the admin allows' },
  NOT_MIGRATABLE: { status: 409, title: 'A device of the VM does not allow saving or migrating its state' },
  QUOTA_EXCEEDED: { status: 409, title: 'A project quota would be exceeded' },
  PROJECT_NOT_FOUND: { status: 404, title: 'No such project' },
  PROJECT_EXISTS: { status: 409, title: 'A project with that name exists' },
  PROJECT_IN_USE: { status: 409, title: 'The project has VMs' },
  PROFILE_NOT_FOUND: { status: 404, title: 'No such profile' },
  PROFILE_EXISTS: { status: 409, title: 'A profile with that name exists' },
  PROFILE_IN_USE: { status: 409, title: 'VMs use the profile' },
  MEMORY_BACKING_CONFLICT: { status: 400, title: 'File-backed guest memory cannot be combined with virtiofs, memfd or hugepage memory' },
  TEMPLATE_NOT_FOUND: { status: 404, title: 'No such warm template' },
  TEMPLATE_EXISTS: { status: 409, title: 'A warm template with that name exists' },
  TEMPLATE_IN_USE: { status: 409, title: 'Clones\' disks are linked to the warm template' },
  CLONE_IDENTITY_FAILED: { status: 500, title: 'A warm clone could not take its own identity through its guest agent' },
  CLONE_USER_DATA_FAILED: { status: 422, title: 'A warm clone\'s user data failed in the guest (the clones were removed)' },
  TEMPLATE_SOURCE_UNFIT: { status: 409, title: 'The VM cannot become a warm template as it runs now' },
  POOL_NOT_FOUND: { status: 404, title: 'No such storage pool' },
  VOLUME_NOT_FOUND: { status: 404, title: 'No such volume' },
  VOLUME_EXISTS: { status: 409, title: 'A volume with that name exists' },
  VOLUME_IN_USE: { status: 409, title: 'The volume is attached or others depend on it' },
  SNAPSHOT_NOT_FOUND: { status: 404, title: 'No such snapshot' },
  SNAPSHOT_EXISTS: { status: 409, title: 'A snapshot with that name exists' },
  IMAGE_EXISTS: { status: 409, title: 'An image with that name exists' },
  IMAGE_IN_USE: { status: 409, title: 'Volumes depend on this image' },
  OVF_INVALID: { status: 422, title: 'The OVF descriptor is not valid (not XML, not OVF, one VM cannot be made of it, or with a DTD or entities, which are refused)' },
  OVF_UNSUPPORTED: { status: 422, title: 'The OVF appliance has hardware Hangar cannot carry over (listed in details.unsupported); import with ignoreUnsupported to leave it out' },
  UNSAFE_PATH: { status: 400, title: 'The path or name would leave its pool' },
  CHECKSUM_MISMATCH: { status: 422, title: 'The download does not match the expected checksum' },
  DOWNLOAD_FAILED: { status: 502, title: 'The download failed' },
  UNSUPPORTED_FORMAT: { status: 422, title: 'The disk format is not supported' },
  UNSAFE_IMAGE: { status: 422, title: 'The image refers to files outside itself' },
  STORAGE_FULL: { status: 507, title: 'The storage pool is full' },
  STORAGE_FAILED: { status: 500, title: 'A storage operation failed' },
  QEMU_FAILED: { status: 500, title: 'QEMU failed' },
  KVM_NO_ACCESS: { status: 409, title: "The guest's user cannot open /dev/kvm" },
  TPM_UNAVAILABLE: { status: 409, title: 'The host cannot provide a TPM (swtpm is missing or failed)' },
  AGENT_UNAVAILABLE: { status: 503, title: 'The guest agent does not answer' },
  AGENT_ERROR: { status: 502, title: 'The guest agent refused the command' },
  PORT_IN_USE: { status: 409, title: 'A host port is already in use' },
  NETWORK_NOT_FOUND: { status: 404, title: 'No such network' },
  NETWORK_EXISTS: { status: 409, title: 'A network with that name exists' },
  NETWORK_IN_USE: { status: 409, title: 'VMs use this network' },
  NETWORK_OVERLAP: { status: 409, title: 'The subnet overlaps another network' },
  NETWORK_PARENT: { status: 409, title: 'The parent interface cannot be used' },
  NETWORK_FAILED: { status: 500, title: 'Setting up the network on the host failed' },
  QMP_ERROR: { status: 502, title: 'QEMU refused a monitor command' },
  TIMEOUT: { status: 504, title: 'The operation timed out' },
  INTERRUPTED: { status: 503, title: 'The daemon stopped while the operation ran' },
  DAEMON_UNREACHABLE: { status: 503, title: 'The Hangar daemon cannot be reached' },
  UNAUTHENTICATED: { status: 401, title: 'A valid bearer token is needed' },
  TOKEN_EXPIRED: { status: 401, title: 'The token has expired' },
  FORBIDDEN: { status: 403, title: 'The token does not allow this' },
  TOKEN_NOT_FOUND: { status: 404, title: 'No such token' },
  TOKEN_EXISTS: { status: 409, title: 'A token with that name exists' },
  PEER_NOT_FOUND: { status: 404, title: 'No such peer' },
  PEER_EXISTS: { status: 409, title: 'A peer with that name exists' },
  PEER_UNREACHABLE: { status: 502, title: 'The peer daemon cannot be reached or refused' },
  MIGRATION_FAILED: { status: 502, title: 'The live migration failed; the guest stays on the source' },
  MIGRATION_NOT_FOUND: { status: 404, title: 'No such incoming migration' },
  BACKUP_REPO_NOT_FOUND: { status: 404, title: 'No such backup repository' },
  BACKUP_REPO_EXISTS: { status: 409, title: 'A backup repository with that name exists' },
  BACKUP_REPO_UNAVAILABLE: { status: 503, title: 'The backup repository cannot be read (storage not mounted, or not a repository)' },
  BACKUP_NOT_FOUND: { status: 404, title: 'No such backup' },
  BACKUP_CORRUPT: { status: 422, title: 'Data in the backup repository is damaged or missing' },
  BACKUP_SCHEDULE_NOT_FOUND: { status: 404, title: 'The VM has no backup schedule' },
  BACKUP_SCHEDULE_EXISTS: { status: 409, title: 'The VM has a backup schedule already' },
  BACKUP_KEY_MISMATCH: { status: 403, title: 'The key does not open the encrypted backup repository' },
  FILE_EXISTS: { status: 409, title: 'A file exists at that path' },
  EXPORT_INVALID: { status: 422, title: 'The file is not a valid Hangar VM export' },
  LIBVIRT_XML_INVALID: { status: 422, title: 'The libvirt domain XML is not valid (not XML, not a domain, or with a DTD or entities, which are refused)' },
  IMPORT_UNSUPPORTED: { status: 422, title: 'The libvirt domain has elements Hangar cannot carry over (listed in details.unsupported); import with ignoreUnsupported to leave them out' },
  CONFLICT: { status: 409, title: 'The record changed since it was read' },
  CLUSTER_STORE_UNAVAILABLE: { status: 503, title: 'The cluster store (etcd) cannot be reached: reads answer from the last state, writes wait' },
  CLUSTER_STORE_FAILED: { status: 500, title: 'The cluster store (etcd) refused the request' },
  CLUSTER_EXISTS: { status: 409, title: 'This node is in a cluster already, or the etcd prefix holds another cluster' },
  NODE_ONLINE: { status: 409, title: 'The node is online, or holds VMs (remove it with --force)' },
  NODE_UNREACHABLE: { status: 503, title: 'The cluster node that holds the VM is offline or does not answer' },
  VM_ON_OTHER_NODE: { status: 409, title: 'The VM is on another node of the cluster' },
  HA_NEEDS_SHARED_STORAGE: { status: 409, title: 'An HA VM needs every disk on a shared pool' },
  NODE_FENCED: { status: 503, title: 'This node is fenced (its lease is not renewed): it may not run HA VMs now' },
  DISK_OWNED_ELSEWHERE: { status: 409, title: 'Another node holds the disk (its owner key in etcd): QEMU may still run on it there' },
  STORAGE_EXPORT_UNAVAILABLE: { status: 503, title: "The pool's fencing NBD export does not serve the disk (the export service is down, or the disk's owner key is gone)" },
  JOIN_TOKEN_INVALID: { status: 403, title: 'The join token is unknown, used, expired, or for another node' },
  NODE_NOT_EMPTY: { status: 409, title: 'A host joining a cluster must have no VMs' },
  PLACEMENT_IMPOSSIBLE: { status: 409, title: "No node satisfies the VM's placement rules (a hard affinity or anti-affinity group, or the pools and networks it needs)" },
  POOL_NOT_ON_NODE: { status: 409, title: 'The storage pool is not on this node (its node list leaves it out)' },
  NETWORK_NOT_ON_NODE: { status: 409, title: 'The network is not on this node (its node list leaves it out)' },
  GROUP_NOT_FOUND: { status: 404, title: 'No such placement group' },
  GROUP_EXISTS: { status: 409, title: 'A placement group with that name exists' },
  GROUP_IN_USE: { status: 409, title: 'The placement group has members' },
  NODE_EVACUATED: { status: 409, title: 'The node is evacuated (node evacuate): it takes no VMs until node restore' },
  HOOK_NOT_FOUND: { status: 404, title: 'No such webhook' },
  HOOK_EXISTS: { status: 409, title: 'A webhook with that name exists' },
  NOT_IN_CLUSTER: { status: 409, title: 'This node is not in a cluster (hangar cluster init)' },
  REVISION_COMPACTED: { status: 410, title: 'The history before that revision was compacted: list again' },
  APPLY_INVALID: { status: 400, title: 'The declarative file is not valid (each problem names the file, line and field); nothing was changed' },
  APPLY_IMMUTABLE: { status: 409, title: 'The declarative file changes a field that cannot change in place; nothing was changed' },
  CONFIRMATION_REQUIRED: { status: 400, title: 'The command deletes things: confirm it (--yes)' },
  STORE_SCHEMA_TOO_NEW: { status: 409, title: "The store was written by a newer Hangar, whose schema this one cannot read (a downgrade): nothing was changed" },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * Exit statuses of `hangar` other than 1 for an error: a daemon refused a store a newer
 * Hangar wrote exits 78 (EX_CONFIG), which a service manager is told not to restart on
 * (systemd: RestartPreventExitStatus=78).
 */
export const EXIT_STATUS: Partial<Record<ErrorCode, number>> = { STORE_SCHEMA_TOO_NEW: 78 };

export class HangarError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HangarError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isHangarError(e: unknown): e is HangarError {
  return e instanceof HangarError;
}

/** An error's message, for logs and messages that quote a cause (anything thrown). */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * An error a subsystem throws that knows its catalogue entry without being a HangarError
 * (the QMP and guest agent clients, the image import engine): recognised by this method.
 */
export interface ConvertibleError {
  toHangarError(): HangarError;
}

/** Maps errors of code that cannot say it itself (a framework's, Node's) to the catalogue, or passes. */
export type ErrorMapper = (e: unknown) => HangarError | undefined;

function isConvertible(e: unknown): e is ConvertibleError {
  return typeof e === 'object' && e !== null && typeof (e as Partial<ConvertibleError>).toHangarError === 'function';
}

/**
 * The one conversion of anything thrown into the catalogue, used where an error leaves
 * Hangar (the API's replies, an operation's result): a HangarError as it is, a
 * ConvertibleError by its own mapping, then the first of `mappers` that knows it, and
 * anything else as INTERNAL, with the original as `cause`.
 */
export function toHangarError(e: unknown, mappers: readonly ErrorMapper[] = []): HangarError {
  if (e instanceof HangarError) return e;
  if (isConvertible(e)) return e.toHangarError();
  for (const map of mappers) {
    const mapped = map(e);
    if (mapped) return mapped;
  }
  return new HangarError('INTERNAL', `Internal error: ${errorText(e)}. This is a bug in Hangar; the daemon log has details.`, { cause: e });
}
