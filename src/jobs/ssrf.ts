// Webhook target checks: http(s) only, and no address on loopback, private, link-local, metadata or other internal ranges (IPv4 and IPv6).
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** A webhook URL this service refuses to call; `message` says why and may be shown to the client. */
export class UnsafeUrlError extends Error {
  override name = 'UnsafeUrlError';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (getaddrinfo, as connections do). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

interface Range {
  bytes: number[];
  bits: number;
  label: string;
}

const v4 = (cidr: string, label: string): Range => {
  const [ip, bits] = cidr.split('/');
  return { bytes: ipv4Bytes(ip!)!, bits: Number(bits), label };
};
const v6 = (cidr: string, label: string): Range => {
  const [ip, bits] = cidr.split('/');
  return { bytes: ipv6Bytes(ip!)!, bits: Number(bits), label };
};

/** Ranges no webhook may reach (most specific first, so the reason names the best label). */
const IPV4_RANGES: Range[] = [
  v4('169.254.169.254/32', 'a cloud metadata address'),
  v4('168.63.129.16/32', 'a cloud metadata address'),
  v4('100.100.100.200/32', 'a cloud metadata address'),
  v4('0.0.0.0/8', 'an unspecified address'),
  v4('10.0.0.0/8', 'a private address'),
  v4('100.64.0.0/10', 'a shared (carrier-grade NAT) address'),
  v4('127.0.0.0/8', 'a loopback address'),
  v4('169.254.0.0/16', 'a link-local address'),
  v4('172.16.0.0/12', 'a private address'),
  v4('192.0.0.0/24', 'a reserved address'),
  v4('192.0.2.0/24', 'a reserved (documentation) address'),
  v4('192.88.99.0/24', 'a reserved (6to4 relay) address'),
  v4('192.168.0.0/16', 'a private address'),
  v4('198.18.0.0/15', 'a reserved (benchmarking) address'),
  v4('198.51.100.0/24', 'a reserved (documentation) address'),
  v4('203.0.113.0/24', 'a reserved (documentation) address'),
  v4('224.0.0.0/4', 'a multicast address'),
  v4('240.0.0.0/4', 'a reserved address'),
];

const IPV6_RANGES: Range[] = [
  v6('fd00:ec2::254/128', 'a cloud metadata address'),
  v6('::/128', 'an unspecified address'),
  v6('::1/128', 'a loopback address'),
  v6('64:ff9b:1::/48', 'a private (local NAT64) address'),
  v6('100::/64', 'a reserved (discard) address'),
  v6('2001::/32', 'a tunnelled (Teredo) address'),
  v6('2001:db8::/32', 'a reserved (documentation) address'),
  v6('fc00::/7', 'a private (unique local) address'),
  v6('fe80::/10', 'a link-local address'),
  v6('fec0::/10', 'a private (site-local) address'),
  v6('ff00::/8', 'a multicast address'),
];

/** Prefixes whose last 32 bits (or, for 6to4, bits 16–47) are an IPv4 address that must be checked too. */
const EMBEDDED_V4: { range: Range; offset: number }[] = [
  { range: v6('::ffff:0:0/96', 'IPv4-mapped'), offset: 12 },
  { range: v6('::/96', 'IPv4-compatible'), offset: 12 },
  { range: v6('64:ff9b::/96', 'NAT64'), offset: 12 },
  { range: v6('2002::/16', '6to4'), offset: 2 },
];

export function ipv4Bytes(address: string): number[] | undefined {
  if (!isIPv4(address)) return undefined;
  return address.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (zone id dropped, embedded dotted quad allowed), or undefined if it is not one. */
export function ipv6Bytes(address: string): number[] | undefined {
  let text = address.split('%')[0]!;
  if (!isIPv6(text)) return undefined;
  const lastColon = text.lastIndexOf(':');
  const quad = ipv4Bytes(text.slice(lastColon + 1));
  if (quad)
    text = `${text.slice(0, lastColon + 1)}${((quad[0]! << 8) | quad[1]!).toString(16)}:${((quad[2]! << 8) | quad[3]!).toString(16)}`;
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const words =
    tail === undefined
      ? groups(head)
      : [...groups(head), ...Array<string>(8 - groups(head).length - groups(tail).length).fill('0'), ...groups(tail)];
  return words.flatMap((w) => {
    const n = parseInt(w, 16);
    return [n >> 8, n & 0xff];
  });
}

function inRange(bytes: number[], range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Why no webhook may be sent to this IP address (e.g. "a loopback address"), or undefined when it is a public one. */
export function forbiddenAddressReason(address: string): string | undefined {
  const four = ipv4Bytes(address);
  if (four) return IPV4_RANGES.find((r) => inRange(four, r))?.label;
  const six = ipv6Bytes(address);
  if (!six) return 'not an IP address';
  for (const { range, offset } of EMBEDDED_V4) {
    if (!inRange(six, range)) continue;
    if (range.label === 'IPv4-compatible' && (inRange(six, IPV6_RANGES[1]!) || inRange(six, IPV6_RANGES[2]!))) break; // :: and ::1 themselves
    const inner = six.slice(offset, offset + 4).join('.');
    const reason = forbiddenAddressReason(inner);
    if (reason) return `${reason} (${inner}, ${range.label})`;
  }
  return IPV6_RANGES.find((r) => inRange(six, r))?.label;
}

/** Parses a webhook URL: absolute, http or https, with a host. Throws UnsafeUrlError otherwise. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnsafeUrlError('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UnsafeUrlError(`uses the scheme ${url.protocol.replace(/:$/, '')}; only http and https are allowed`);
  if (url.hostname === '') throw new UnsafeUrlError('names no host');
  return url;
}

/** The host of a URL as an address or name (IPv6 brackets removed). */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

export interface TargetCheck {
  allowPrivate: boolean;
  resolver?: Resolver;
  /** Longest the name lookup may take. */
  timeoutMs?: number;
}

/**
 * Resolves the URL's host now and checks every address it has: if any is internal (and WEBHOOK_ALLOW_PRIVATE is
 * off) the URL is refused. Returns the addresses, so the caller connects to exactly these (no second lookup
 * that DNS rebinding could answer differently).
 */
export async function resolveWebhookTarget(url: URL, check: TargetCheck): Promise<ResolvedAddress[]> {
  const host = hostOf(url);
  const family = isIP(host);
  let addresses: ResolvedAddress[];
  if (family !== 0) {
    addresses = [{ address: host, family: family === 6 ? 6 : 4 }];
  } else {
    const resolver = check.resolver ?? systemResolver;
    let timer: NodeJS.Timeout | undefined;
    try {
      addresses = await Promise.race([
        resolver(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new UnsafeUrlError(`host ${host} did not resolve in time`)),
            check.timeoutMs ?? 5000,
          );
        }),
      ]);
    } catch (err) {
      if (err instanceof UnsafeUrlError) throw err;
      throw new UnsafeUrlError(
        `host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    } finally {
      clearTimeout(timer);
    }
    if (addresses.length === 0) throw new UnsafeUrlError(`host ${host} has no address`);
  }
  if (!check.allowPrivate) {
    for (const a of addresses) {
      const reason = forbiddenAddressReason(a.address);
      if (reason) {
        const shown = a.address === host ? a.address : `${host} (${a.address})`;
        throw new UnsafeUrlError(
          `resolves to ${reason}: ${shown}; internal targets are refused unless WEBHOOK_ALLOW_PRIVATE=true`,
        );
      }
    }
  }
  return addresses;
}
