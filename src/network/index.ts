/** Managed networks, host side: bridges, taps, dnsmasq and nftables rules. No knowledge of VMs. */
export { HostNetworks, findOverlap, inSubnet, readHostNets } from './host.js';
export type { HostInterfaceNet, HostNetworksOptions, NetworkSpec, NetworkState, Orphans, TapInfo } from './host.js';
export { MAX_PREFIX, MIN_PREFIX, formatIPv4, overlaps, parseIPv4, parseSubnet, planSubnet, type Cidr, type SubnetPlan } from './addr.js';
export {
  DEFAULT_PREFIX,
  IFNAME_MAX,
  MAC_PREFIX,
  bridgeName,
  isMac,
  macAddress,
  tableName,
  tapName,
  validateIfname,
  validateNetworkName,
} from './names.js';
export type { Lease } from './dnsmasq.js';
export type { NetworkMode } from './firewall.js';
