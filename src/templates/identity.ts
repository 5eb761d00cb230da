/**
 * A warm clone's own identity, planned on the host and put in place through the guest
 * agent before the clone is reported ready (its NIC link is down meanwhile: the loaded
 * device state carries the template's MAC).
 *
 * One exec runs a fixed Perl program in the guest (perl-base is in every Debian system);
 * the values come as its arguments, the host's fresh entropy on its stdin
 * (never in the guest's process list). In order: the clock, the kernel RNG (host entropy
 * credited with RNDADDENTROPY, then RNDRESEEDCRNG so every CRNG rekeys: Debian's cloud
 * kernel has no vmgenid driver to do it), systemd's random seed, /etc/machine-id, the
 * hostname, cloud-init's instance id, each NIC's MAC (found by the template's MAC), and new
 * ed25519 SSH host keys (the others removed: they would be every sibling's). At its
 * end, systemd-networkd is restarted (queued: its DHCP client id derives from the
 * machine-id), and it asks for the clone's own lease once the host brings the link up.
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

/**
 * The Perl program run in the guest (argv: hostname machine-id instance-id time MAC=MAC…;
 * stdin: the entropy in hex). Perl, not Python: perl-base is Essential in Debian and starts
 * in a fraction of the time under emulation, when ten clones' first runs share two cores.
 * Only `ip`, `ssh-keygen` and (left running) `systemctl` are started besides it.
 */
export const IDENTITY_PROGRAM = String.raw`
use strict; use warnings;
my ($host, $mid, $iid, $now, @macs) = @ARGV;
my $hex = do { local $/; <STDIN> }; $hex =~ s/\s+//g;
my $ent = pack('H*', $hex);
my @done;
sub put { my ($path, $data, $mode) = @_; my $tmp = "$path.hangar-tmp";
  open(my $f, '>', $tmp) or die "$tmp: $!"; binmode $f; print $f $data; close($f) or die "$tmp: $!";
  chmod($mode, $tmp); rename($tmp, $path) or die "$path: $!"; }
sub run { my $pid = fork(); die "fork: $!" unless defined $pid;
  if ($pid == 0) { open(STDOUT, '>', '/dev/null'); exec(@_) or exit(127); }
  waitpid($pid, 0); return $? == 0; }
sub detach { my $pid = fork(); die "fork: $!" unless defined $pid;
  if ($pid == 0) { open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null'); exec(@_) or exit(127); } }
my ($sec, $frac) = split(/\./, $now);
# clock_settime(CLOCK_REALTIME) on x86_64; date(1) where the call is refused.
if (syscall(227, 0, pack('q q', $sec, ($frac // 0) * 1000000)) != 0) { run('date', '-u', '-s', "\@$now") or die "setting the clock failed"; }
push @done, 'clock';
open(my $r, '+<', '/dev/random') or die "/dev/random: $!";
ioctl($r, 0x40085203, pack('i i', 512, 64) . substr($ent, 0, 64)) or die "RNDADDENTROPY: $!";
ioctl($r, 0x5207, 0) or die "RNDRESEEDCRNG: $!";
close($r);
push @done, 'rng-reseed';
if (-d '/var/lib/systemd') { put('/var/lib/systemd/random-seed', substr($ent, 64), 0600); push @done, 'random-seed'; }
put('/etc/machine-id', "$mid\n", 0444);
put('/var/lib/dbus/machine-id', "$mid\n", 0444) if -e '/var/lib/dbus/machine-id' && ! -l '/var/lib/dbus/machine-id';
push @done, 'machine-id';
my ($short) = split(/\./, $host);
open(my $hn, '>', '/proc/sys/kernel/hostname') or die "hostname: $!"; print $hn $short; close($hn);
put('/etc/hostname', "$host\n", 0644);
if (open(my $h, '<', '/etc/hosts')) {
  my @lines = grep { !/^127\.0\.1\.1\s/ } map { chomp; $_ } <$h>; close($h);
  splice(@lines, (@lines ? 1 : 0), 0, "127.0.1.1\t" . ($short ne $host ? "$host $short" : $host));
  put('/etc/hosts', join("\n", @lines) . "\n", 0644);
}
push @done, 'hostname';
if (-d '/var/lib/cloud') { mkdir('/var/lib/cloud/data'); put('/var/lib/cloud/data/instance-id', "$iid\n", 0644); push @done, 'cloud-init-instance-id'; }
my @ip;
for my $pair (@macs) {
  my ($old, $new) = split(/=/, $pair);
  opendir(my $d, '/sys/class/net') or die "/sys/class/net: $!";
  for my $dev (grep { !/^\./ } readdir($d)) {
    open(my $a, '<', "/sys/class/net/$dev/address") or next; my $mac = <$a>; close($a);
    next unless defined $mac && lc((split(/\s/, $mac))[0] // '') eq $old;
    # The template's lease goes with its MAC: the clone asks for its own.
    push @ip, "link set dev $dev address $new", "addr flush dev $dev scope global";
    push @done, "mac $new";
  }
  closedir($d);
}
if (@ip) { open(my $b, '|-', 'ip', '-batch', '-') or die "ip: $!"; print $b join("\n", @ip), "\n"; close($b) or die "ip -batch failed"; }
if (-d '/etc/ssh') {
  opendir(my $d, '/etc/ssh') or die "/etc/ssh: $!";
  unlink(map { "/etc/ssh/$_" } grep { /^ssh_host_/ } readdir($d)); closedir($d);
  run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', '/etc/ssh/ssh_host_ed25519_key') or die "ssh-keygen failed";
  # sshd re-executes itself on SIGHUP and loads the new key.
  if (open(my $p, '<', '/run/sshd.pid')) { my $pid = <$p>; close($p); kill('HUP', int($pid)) if defined $pid && $pid =~ /^\d+/; }
  push @done, 'ssh-host-keys';
}
# networkd's DHCP client id derives from the machine-id: restarted (queued; left running), it
# asks for a lease of the clone's own once the host brings the link up.
if (-d '/run/systemd/netif') { detach('systemctl', '--no-block', 'try-restart', 'systemd-networkd.service'); push @done, 'dhcp-renew'; }
print '["' . join('","', @done) . '"]' . "\n";
`;

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
  const argv = ['perl', '-e', IDENTITY_PROGRAM, plan.hostname, plan.machineId, plan.instanceId, (now / 1000).toFixed(6), ...plan.macs.map((m) => `${m.from}=${m.to}`)];
  return { argv, input: entropy.toString('hex') };
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
