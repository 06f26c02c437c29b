import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Which addresses Harbor may connect to when it fetches something a stranger named (a client's
 * metadata document): public unicast only. A URL that resolves to this machine, the LAN, a cloud
 * metadata service or any special-use range is refused (SSRF), and the check is made on the address
 * the socket actually connects to (the lookup below), so a name that resolves to a public address
 * for the check and a private one for the connection (DNS rebinding) cannot slip through.
 *
 * Choices: a name with several addresses is refused if any one is refused (mixing public and private
 * addresses is what a rebinding setup looks like); IPv4-mapped, NAT64 and 6to4 IPv6 addresses are
 * refused whole rather than unpacked, as are IPv4-compatible, IPv4-translated and Teredo ones (an MCP
 * client's document has no reason to live there).
 * `allowLoopback` (tests and local development only) lets 127.0.0.0/8 and ::1 through, nothing else.
 * node:net's BlockList holds the ranges (no hand-written CIDR arithmetic).
 */

const REFUSED_V4 = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const;

const REFUSED_V6 = [
  ['::', 96], // unspecified, and IPv4-compatible (deprecated: ::10.0.0.1 names an IPv4 host)
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // NAT64, local use (RFC 8215): translates to whatever IPv4 the site chose
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments, Teredo (2001::/32) among them
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated, still routed on some networks)
  ['ff00::', 8], // multicast
] as const;

function blockList(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of REFUSED_V4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of REFUSED_V6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

const REFUSED = blockList();
// Apart: BlockList matches IPv4 addresses against an IPv4-mapped subnet, so in REFUSED it would refuse every IPv4 address.
const MAPPED_V4 = new BlockList();
MAPPED_V4.addSubnet('::ffff:0:0', 96, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export interface AddressPolicy {
  /** Tests and local development: loopback addresses are allowed. */
  allowLoopback: boolean;
}

export class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why `address` may not be connected to, or null when it may. */
export function refusedAddress(address: string, policy: AddressPolicy): string | null {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  if (isLoopbackAddress(address)) return policy.allowLoopback ? null : `${address} is a loopback address`;
  if (family === 6 && MAPPED_V4.check(address, 'ipv6')) return `${address} is an IPv4-mapped address`;
  if (REFUSED.check(address, family === 4 ? 'ipv4' : 'ipv6')) return `${address} is a private, link-local or reserved address`;
  return null;
}

/** A host written as an IP address (`[::1]` too): the socket does no lookup for it, so it is checked here. */
export function literalAddress(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) ? bare : null;
}

/**
 * A `lookup` for node's sockets that resolves as usual and fails with RefusedAddressError when any
 * address the name resolves to is refused. Answers in the form asked (`all` or one address).
 */
export function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...(options as LookupOneOptions), all: true } as LookupAllOptions, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refusal = addresses.length === 0 ? `${hostname} has no address` : addresses.map((a) => refusedAddress(a.address, policy)).find((r) => r !== null);
      if (refusal) return callback(new RefusedAddressError(`${hostname}: ${refusal}`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
