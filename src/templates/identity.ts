/**
 * A warm clone's own identity, planned on the host and put in place through the guest
 * agent before the clone is reported ready (its NIC link is down meanwhile: the loaded
 * device state carries the template's MAC).
 *
 * One exec runs a fixed python3 program in the guest (cloud-init's python is in every
 * cloud image); the values come as its arguments, the host's fresh entropy on its stdin
 * (never in the guest's process list). In order: the clock, the kernel RNG (host entropy
 * credited with RNDADDENTROPY, then RNDRESEEDCRNG so every CRNG rekeys: Debian's cloud
 * kernel has no vmgenid driver to do it), systemd's random seed, /etc/machine-id, the
 * hostname, cloud-init's instance id, each NIC's MAC (found by the template's MAC), and new
 * ed25519 SSH host keys (the others removed: they would be every sibling's). After the link
 * is up, `networkUpScript` renews the DHCP lease (systemd-networkd restarted: its DHCP
 * client id derives from the machine-id).
 */
import { randomBytes } from 'node:crypto';
import { HangarError } from '../errors/errors.js';

export interface CloneIdentityPlan {
  hostname: string;
  /** 32 lower-case hex digits. */
  machineId: string;
  instanceId: string;
  /** Each NIC: the template's MAC (in the guest now) and the clone's. */
  macs: Array<{ from: string; to: string }>;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const INSTANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Bytes of host entropy: 64 for the kernel's pool, 512 for systemd's random seed. */
export const ENTROPY_BYTES = 64 + 512;

/** The python3 program run in the guest (argv: hostname machine-id instance-id time MAC=MAC…; stdin: base64 entropy). */
export const IDENTITY_PROGRAM = `
import base64, fcntl, glob, json, os, struct, subprocess, sys, time
host, mid, iid, now = sys.argv[1:5]
macs = [p.split('=') for p in sys.argv[5:]]
ent = base64.b64decode(sys.stdin.read())
done = []
subprocess.run(['date', '-u', '-s', '@' + now], check=True, stdout=subprocess.DEVNULL)
done.append('clock')
with open('/dev/random', 'wb', buffering=0) as r:
    pool = ent[:64]
    fcntl.ioctl(r, 0x40085203, struct.pack('ii', len(pool) * 8, len(pool)) + pool)
    fcntl.ioctl(r, 0x5207)
done.append('rng-reseed')
def put(path, data, mode=0o644):
    tmp = path + '.hangar-tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
if os.path.isdir('/var/lib/systemd'):
    put('/var/lib/systemd/random-seed', ent[64:], 0o600)
    done.append('random-seed')
put('/etc/machine-id', (mid + '\\n').encode(), 0o444)
if os.path.lexists('/var/lib/dbus/machine-id') and not os.path.islink('/var/lib/dbus/machine-id'):
    put('/var/lib/dbus/machine-id', (mid + '\\n').encode(), 0o444)
done.append('machine-id')
with open('/proc/sys/kernel/hostname', 'w') as f:
    f.write(host.split('.')[0])
put('/etc/hostname', (host + '\\n').encode())
try:
    lines = open('/etc/hosts').read().splitlines()
    short = host.split('.')[0]
    entry = '127.0.1.1\\t' + (host + ' ' + short if short != host else host)
    lines = [l for l in lines if not l.startswith('127.0.1.1')]
    lines.insert(1, entry)
    put('/etc/hosts', ('\\n'.join(lines) + '\\n').encode())
except OSError:
    pass
done.append('hostname')
if os.path.isdir('/var/lib/cloud'):
    os.makedirs('/var/lib/cloud/data', exist_ok=True)
    put('/var/lib/cloud/data/instance-id', (iid + '\\n').encode())
    done.append('cloud-init-instance-id')
for old, new in macs:
    for dev in glob.glob('/sys/class/net/*/address'):
        if open(dev).read().strip().lower() == old:
            subprocess.run(['ip', 'link', 'set', 'dev', dev.split('/')[4], 'address', new], check=True)
            done.append('mac ' + new)
for key in glob.glob('/etc/ssh/ssh_host_*'):
    os.remove(key)
if os.path.isdir('/etc/ssh'):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/etc/ssh/ssh_host_ed25519_key'], check=True)
    subprocess.run(['systemctl', '--no-block', 'try-restart', 'ssh.service'], check=False)
    done.append('ssh-host-keys')
print(json.dumps(done))
`;

/** After the link is up: a new DHCP lease (networkd restarted for its new client id), where the guest runs networkd. */
export const NETWORK_UP_PROGRAM = 'if systemctl is-active -q systemd-networkd; then systemctl restart systemd-networkd; fi';

/** Checks the plan's values (they become a guest program's arguments). */
export function checkIdentityPlan(plan: CloneIdentityPlan): void {
  const bad = (what: string, v: string) => new HangarError('INTERNAL', `Clone identity: bad ${what} ${JSON.stringify(v)}`);
  if (!HOSTNAME.test(plan.hostname) || plan.hostname.length > 253) throw bad('hostname', plan.hostname);
  if (!HEX32.test(plan.machineId)) throw bad('machine-id', plan.machineId);
  if (!INSTANCE_ID.test(plan.instanceId)) throw bad('instance id', plan.instanceId);
  for (const m of plan.macs) for (const v of [m.from, m.to]) if (!MAC.test(v)) throw bad('MAC', v);
}

/** The guest command (argv) and its stdin that give a clone its identity. */
export function identityExec(plan: CloneIdentityPlan, now: number = Date.now(), entropy: Buffer = randomBytes(ENTROPY_BYTES)): { argv: string[]; input: string } {
  checkIdentityPlan(plan);
  if (entropy.length !== ENTROPY_BYTES) throw new HangarError('INTERNAL', `Clone identity: ${entropy.length} bytes of entropy, want ${ENTROPY_BYTES}`);
  const argv = ['python3', '-c', IDENTITY_PROGRAM, plan.hostname, plan.machineId, plan.instanceId, (now / 1000).toFixed(3), ...plan.macs.map((m) => `${m.from}=${m.to}`)];
  return { argv, input: entropy.toString('base64') };
}

/** The identity of clone `rec` of a template: the hostname is the clone's name (the template's domain kept). */
export function planCloneIdentity(input: { name: string; id: string; uuid: string; templateHostname?: string; macs: Array<{ from: string; to: string }> }): CloneIdentityPlan {
  const dot = input.templateHostname?.indexOf('.') ?? -1;
  const hostname = dot > 0 ? `${input.name}${input.templateHostname!.slice(dot)}` : input.name;
  const plan: CloneIdentityPlan = {
    hostname,
    // As cloud-init sets it at a cold boot (vm/guest-files.ts): the SMBIOS UUID's hex digits.
    machineId: input.uuid.toLowerCase().replace(/-/g, ''),
    instanceId: `hangar-${input.id}`,
    macs: input.macs.map((m) => ({ from: m.from.toLowerCase(), to: m.to.toLowerCase() })),
  };
  checkIdentityPlan(plan);
  return plan;
}
