/** Managed networks and the NICs VMs have on them. */
import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';

export const Network = Type.Object(
  {
    name: Type.String(),
    subnet: Type.String(),
    nat: Type.Boolean(),
    isolated: Type.Boolean(),
    parent: Type.Optional(Type.String()),
    domain: Type.Optional(Type.String()),
    bridge: Type.String(),
    mode: Type.String({ description: 'nat, routed, isolated or bridged (with a parent interface).' }),
    gateway: Type.Optional(Type.String()),
    dhcpRange: Type.Optional(Type.Array(Type.String())),
    tftpRoot: Type.Optional(Type.String({ description: 'Directory the network serves over TFTP (network boot).' })),
    bootFile: Type.Optional(Type.String({ description: 'Boot file DHCP hands to clients (iPXE, PXE).' })),
    bootServer: Type.Optional(Type.String({ description: 'TFTP server of the boot file, when not the gateway.' })),
    leases: Type.Array(Type.Object({ mac: Type.String(), ip: Type.String(), hostname: Type.Optional(Type.String()), expires: Type.String(), clientId: Type.Optional(Type.String()) })),
    vms: Type.Array(Type.String()),
    nodes: Type.Optional(Type.Array(Type.String(), { description: 'In a cluster: the only nodes that have this network (absent: every node). Elsewhere it is not set up and VMs with a NIC on it do not start (NETWORK_NOT_ON_NODE).' })),
    createdAt: Type.String(),
  },
  { $id: 'Network' },
);
export const CreateNetworkBody = Type.Object(
  {
    name: Type.String({ description: 'Network name (letters, digits, -).' }),
    subnet: Type.String({ description: 'IPv4 CIDR, /16 to /29, e.g. 10.77.0.0/24.' }),
    nat: Type.Optional(Type.Boolean({ description: 'Masquerade guests out through the host.' })),
    isolated: Type.Optional(Type.Boolean({ description: 'No forwarding out of the network (and only DHCP/DNS to the host).' })),
    parent: Type.Optional(Type.String({ description: 'Enslave this host interface: guests sit on its LAN (no DHCP/NAT of ours).' })),
    tftpRoot: Type.Optional(Type.String({ description: 'Network boot: an existing directory (absolute path) the network\'s dnsmasq serves read-only over TFTP at the gateway address; world-readable files (dnsmasq serves as nobody).' })),
    bootFile: Type.Optional(Type.String({ description: 'Network boot: the file DHCP names to clients (PXE/iPXE), a relative path under the TFTP root such as pxelinux.0 or boot.ipxe. Needs tftpRoot or bootServer.' })),
    bootServer: Type.Optional(Type.String({ description: 'Network boot: IPv4 address of another TFTP server holding bootFile (default: this network\'s gateway).' })),
    nodes: Type.Optional(Type.Array(Type.String(), { description: 'In a cluster: the only nodes that have this network (default: every node); placement puts VMs with a NIC on it on them.' })),
  },
  strict,
);
export const NetworkParam = Type.Object({ name: Type.String() }, strict);

export const AddNicBody = Type.Object({ network: Type.String({ description: 'The managed network to put the NIC on.' }) }, strict);
export const NicParams = Type.Object({ name: Type.String(), nic: Type.String() }, strict);

export type Network = Static<typeof Network>;
export type CreateNetworkBody = Static<typeof CreateNetworkBody>;
export type NetworkParam = Static<typeof NetworkParam>;
export type AddNicBody = Static<typeof AddNicBody>;
export type NicParams = Static<typeof NicParams>;
