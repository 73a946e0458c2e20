/**
 * Where a webhook may be sent. Only https (plain http when the operator allows it for a
 * subscription), and never to loopback, private, link-local or unspecified addresses
 * unless allowed: otherwise a subscription could make the server reach services that
 * only it can reach. The check is on the addresses the host name resolves to at delivery
 * time, and the connection goes to an address that passed it, so a name that changes its
 * answer between check and use (DNS rebinding) gains nothing.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { invalid } from '../../errors.ts';

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network": connecting to it reaches this machine
  ['10.0.0.0', 8],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, where cloud metadata services answer
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

/** Whether connecting to `address` (an IP literal) could reach this machine or a private network. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Thrown by the lookup of a refused target; the attempt is recorded as `target_refused`. */
export class PrivateTargetError extends Error {
  readonly address: string;
  constructor(host: string, address: string) {
    super(
      `${host} resolves to ${address}, a loopback, private or link-local address; allow private targets for this subscription to send there`,
    );
    this.name = 'PrivateTargetError';
    this.address = address;
  }
}

/** The host of a URL as a resolver or socket takes it: IPv6 literals without brackets. */
export const bareHost = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** How names are resolved: dns.lookup, or a stand-in in tests. */
export type Resolve = (
  hostname: string,
  options: { all: true; family?: number | 'IPv4' | 'IPv6' },
  callback: (err: Error | null, found: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for sockets: resolves every address of the name and refuses the connection
 * when any of them is private (unless allowed); the socket connects to those checked.
 */
export function checkedLookup(allowPrivate: boolean, resolve: Resolve = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { family: options.family, all: true }, (err, found) => {
      if (err) return callback(err as NodeJS.ErrnoException, '', 0);
      const refused = allowPrivate ? undefined : found.find((a) => isPrivateAddress(a.address));
      if (refused) return callback(new PrivateTargetError(hostname, refused.address) as NodeJS.ErrnoException, '', 0);
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, found);
      const first = found[0]!;
      callback(null, first.address, first.family);
    });
  };
}

export interface TargetPolicy {
  allowHttp: boolean;
  allowPrivateTarget: boolean;
}

/**
 * Refuses a URL no delivery could go to under `policy`: not http(s), plain http without
 * allowHttp, credentials or a fragment in it, or a host that is plainly this machine or a
 * private address. Names are checked again on every delivery, where they are resolved.
 */
export function checkTargetUrl(text: string, policy: TargetPolicy): URL {
  const bad = (why: string) => invalid('WEBHOOK_URL_INVALID', `the webhook URL ${JSON.stringify(text.slice(0, 200))} ${why}`);
  if (!URL.canParse(text)) throw bad('is not a URL; use one such as https://ci.example.com/hooks/acihost');
  const url = new URL(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad('must start with https://');
  if (url.protocol === 'http:' && !policy.allowHttp) {
    throw bad('is plain http, which anyone on the way can read and change; use https://, or allow http for this subscription');
  }
  if (url.username || url.password) throw bad('must not hold credentials: the signature proves the sender');
  if (url.hash) throw bad('must not have a #fragment');
  const host = bareHost(url);
  const plainlyLocal = host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && isPrivateAddress(host));
  if (plainlyLocal && !policy.allowPrivateTarget) {
    throw invalid(
      'WEBHOOK_TARGET_PRIVATE',
      `the webhook URL's host ${host} is this machine or a private address; allow private targets for this subscription to send there`,
    );
  }
  return url;
}
