/**
 * Host names and addresses for certificate subject alternative names.
 *
 * A server certificate must name every host a client dials: Go's crypto/tls, which
 * rkt uses, checks DNS names against DNS SANs and literal addresses against IP
 * SANs only, so an address written as a DNS SAN never matches.
 * Hosts are canonicalised so that the set a certificate carries can be compared
 * with the set asked for ("::1" and "0:0:0:0:0:0:0:1" are the same address).
 */
import { isIP } from 'node:net';

export interface SanEntry {
  type: 'dns' | 'ip';
  value: string;
}

// One DNS label: letters, digits and inner hyphens, at most 63 characters.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
// A wildcard is allowed only as the whole leftmost label.
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** Canonical form of one host, or a TypeError naming it. */
export function canonicalHost(host: string): SanEntry {
  const trimmed = host.trim().toLowerCase();
  const bare = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  const family = isIP(bare);
  if (family !== 0) return { type: 'ip', value: canonicalAddress(bare, family) };
  const name = bare.endsWith('.') ? bare.slice(0, -1) : bare;
  if (name.length > 253 || !DNS_NAME.test(name)) {
    throw new TypeError(`not a valid certificate host name: ${JSON.stringify(host)}`);
  }
  return { type: 'dns', value: name };
}

/** Canonical, de-duplicated SAN entries for a list of hosts; at least one is required. */
export function sanEntries(hosts: readonly string[]): SanEntry[] {
  if (hosts.length === 0) throw new TypeError('a certificate needs at least one host');
  const byKey = new Map<string, SanEntry>();
  for (const host of hosts) {
    const entry = canonicalHost(host);
    byKey.set(sanKey(entry), entry);
  }
  return [...byKey.values()];
}

/** A stable text key for set comparison, e.g. "ip:::1". */
export const sanKey = (entry: SanEntry): string => `${entry.type}:${entry.value}`;

/** True when both lists name exactly the same hosts, in any order. */
export function sameSans(a: readonly SanEntry[], b: readonly SanEntry[]): boolean {
  const left = new Set(a.map(sanKey));
  const right = new Set(b.map(sanKey));
  return left.size === right.size && [...left].every((key) => right.has(key));
}

// The WHATWG URL parser prints addresses in their canonical (RFC 5952) form.
function canonicalAddress(address: string, family: number): string {
  try {
    const hostname = new URL(family === 6 ? `http://[${address}]/` : `http://${address}/`).hostname;
    return family === 6 ? hostname.slice(1, -1) : hostname;
  } catch (cause) {
    // Zone ids ("fe80::1%eth0") pass isIP but have no place in a certificate.
    throw new TypeError(`not a valid certificate address: ${JSON.stringify(address)}`, { cause });
  }
}
