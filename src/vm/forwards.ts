/**
 * Host port forwards of the user-mode NIC (`tcp:127.0.0.1:2222:22`): parsing, formatting,
 * and the checks that a forward is not taken by another VM or by something on the host.
 */
import { createServer } from 'node:net';
import { HangarError } from '../errors/errors.js';
import type { PortForward } from '../model/spec.js';
import { isIPv4 } from '../model/validate.js';
import type { VmRecord } from '../store/store.js';

/** `tcp:127.0.0.1:2222:22`, `tcp:2222:22` (loopback) or `udp:0.0.0.0:5353:53`. */
export function parseForward(text: string): PortForward {
  const parts = text.split(':');
  const [proto, ...rest] = parts;
  const bad = () => new HangarError('INVALID_SPEC', `Port forward "${text}" is not protocol:[address:]hostPort:guestPort, e.g. tcp:127.0.0.1:2222:22.`, { details: { field: 'forwards' } });
  if ((proto !== 'tcp' && proto !== 'udp') || (rest.length !== 2 && rest.length !== 3)) throw bad();
  const [address, hostPort, guestPort] = rest.length === 3 ? rest : ['127.0.0.1', ...rest];
  const port = (p: string | undefined) => {
    const n = Number(p);
    if (!p || !/^\d+$/.test(p) || n < 1 || n > 65535) throw bad();
    return n;
  };
  if (!isIPv4(address ?? '')) throw bad();
  return { protocol: proto, hostAddress: address!, hostPort: port(hostPort), guestPort: port(guestPort) };
}

export function formatForward(f: PortForward): string {
  return `${f.protocol}:${f.hostAddress}:${f.hostPort}:${f.guestPort}`;
}

/** Forwards must not collide with another VM's (`all` the VMs there are), nor with a port something on the host holds. */
export async function checkForwards(forwards: PortForward[], vm: string, all: readonly VmRecord[]): Promise<PortForward[]> {
  const seen = new Set<string>();
  for (const f of forwards) {
    const key = `${f.protocol}:${f.hostAddress}:${f.hostPort}`;
    if (seen.has(key)) throw new HangarError('PORT_IN_USE', `Forward ${key} is given twice.`);
    seen.add(key);
  }
  for (const other of all) {
    if (other.name === vm) continue;
    for (const f of other.spec.nics.flatMap((n) => n.forwards)) {
      if (seen.has(`${f.protocol}:${f.hostAddress}:${f.hostPort}`) || (f.protocol === 'tcp' && seen.has(`tcp:0.0.0.0:${f.hostPort}`))) {
        throw new HangarError('PORT_IN_USE', `Host port ${f.protocol} ${f.hostAddress}:${f.hostPort} is already forwarded to VM "${other.name}": pick another port.`);
      }
    }
  }
  await checkPortsFree(forwards, vm);
  return forwards;
}

/** PORT_IN_USE if something on the host listens on a forward's TCP port. */
export async function checkPortsFree(forwards: PortForward[], vm: string): Promise<void> {
  for (const f of forwards) {
    if (f.protocol !== 'tcp') continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(f.hostPort, f.hostAddress, () => srv.close(() => resolve(true)));
    });
    if (!free) throw new HangarError('PORT_IN_USE', `Host port ${f.hostAddress}:${f.hostPort} (forward of VM "${vm}") is in use on this host: pick another, or stop what holds it.`);
  }
}
