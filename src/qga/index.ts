/** qemu-guest-agent client (host side of the org.qemu.guest_agent.0 virtio-serial channel). */
export {
  GuestAgent,
  GuestAgentError,
  isGuestAgentError,
  type GuestAgentErrorCode,
  type GuestAgentOptions,
  type GuestOsInfo,
  type GuestInterface,
  type GuestAddress,
  type ExecOptions,
  type ExecResult,
} from './client.js';
export { qgaArgv, QGA_PORT_NAME, type QgaArgvOptions } from './argv.js';
