/**
 * The console WebSockets: serial (/console), VNC (/vnc) and SPICE (/spice) under a VM's
 * path. The server routes upgrades by these paths; clients open them.
 */

export const CONSOLE_TYPES = ['serial', 'vnc', 'spice'] as const;
export type ConsoleType = (typeof CONSOLE_TYPES)[number];

/** The WebSocket path of each console type (vnc and spice are for the web UI to serve). */
export function consolePath(type: ConsoleType, vm: string): string {
  const suffix = type === 'serial' ? 'console' : type;
  return `/v1/vms/${encodeURIComponent(vm)}/${suffix}`;
}

/** The VM and console type a WebSocket path is for, or undefined if it is not a console. */
export function parseConsolePath(pathname: string): { vm: string; type: ConsoleType } | undefined {
  const m = /^\/v1\/vms\/([^/]+)\/(console|vnc|spice)$/.exec(pathname);
  if (!m) return undefined;
  let vm: string;
  try {
    vm = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return { vm, type: m[2] === 'console' ? 'serial' : (m[2] as ConsoleType) };
}
