/**
 * In-memory issuing of a development CA and of server certificates it signs.
 * No file I/O here: src/tls/dev-ca.ts decides what to keep on disk.
 *
 * Keys are ECDSA P-256 signed with SHA-256: fast to generate, and verified by
 * every client we serve, including rkt builds made with a Go as old as 1.6.
 */
import { createPrivateKey, randomBytes, X509Certificate, type webcrypto } from 'node:crypto';
import type { x509 as X509Module } from './x509.ts';
import { canonicalHost, sanEntries, type SanEntry } from './hosts.ts';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** Clock for notBefore/notAfter; defaults to now. */
  now?: Date;
  /** Lifetime in days; servers default to and are capped at 825. */
  validityDays?: number;
}

// Node's WebCrypto (the same object as node:crypto's `webcrypto`), typed with the global CryptoKey.
const subtle = globalThis.crypto.subtle;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Apple platforms reject TLS server certificates valid for longer than 825 days. */
export const MAX_SERVER_VALIDITY_DAYS = 825;
export const CA_VALIDITY_DAYS = 3650;
export const CA_COMMON_NAME = 'acihost development CA';
// Backdating absorbs small clock differences between this host and its clients.
const BACKDATE_MS = 5 * 60 * 1000;

/**
 * @peculiar/x509 is loaded only to issue certificates: importing it takes long
 * enough for every server start to notice (docs/benchmarks.md#cold-start; checks use
 * node:crypto's X509Certificate).
 */
const loadX509 = async (): Promise<typeof X509Module> => (await import('./x509.ts')).x509;

/** Creates a self-signed CA that may sign end-entity certificates only (pathLength 0). */
export async function createCertificateAuthority(opts: IssueOptions = {}): Promise<PemPair> {
  const x509 = await loadX509();
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity(opts, CA_VALIDITY_DAYS, CA_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${CA_COMMON_NAME}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certToPem(cert), keyPem: await privateKeyToPem(keys.privateKey) };
}

/** Issues a TLS server certificate for `hosts`, signed by `ca`. */
export async function issueServerCertificate(ca: PemPair, hosts: readonly string[], opts: IssueOptions = {}): Promise<PemPair> {
  const sans = sanEntries(hosts);
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await generateKeyPair();
  const days = opts.validityDays ?? MAX_SERVER_VALIDITY_DAYS;
  const { notBefore, notAfter } = validity(opts, days, MAX_SERVER_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${sans[0]?.value ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: await importSigningKey(ca.keyPem),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // ECDSA keys sign the handshake; keyEncipherment applies to RSA only.
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans.map(({ type, value }) => ({ type, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { certPem: certToPem(cert), keyPem: await privateKeyToPem(keys.privateKey) };
}

/** The canonical SAN entries a certificate carries (DNS and IP only). */
export function certificateSans(certPem: string): SanEntry[] {
  // Node lists them as "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1";
  // it quotes a value holding a comma or a quote, which no host name or address does.
  const entries: SanEntry[] = [];
  for (const part of (new X509Certificate(certPem).subjectAltName ?? '').split(', ')) {
    const san = /^(?:DNS|IP Address):(.+)$/.exec(part);
    if (san) entries.push(canonicalHost(san[1]!));
  }
  return entries;
}

/** True when `pair.keyPem` is the private key for `pair.certPem`; false if either does not parse. */
export function keyMatchesCertificate(pair: PemPair): boolean {
  try {
    return new X509Certificate(pair.certPem).checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch {
    return false;
  }
}

function validity(opts: IssueOptions, days: number, maxDays: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isInteger(days) || days < 1 || days > maxDays) {
    throw new RangeError(`validityDays must be an integer from 1 to ${maxDays}, got ${days}`);
  }
  const notBefore = new Date((opts.now ?? new Date()).getTime() - BACKDATE_MS);
  // The whole span, backdate included, stays within `days`.
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * DAY_MS) };
}

async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

async function importSigningKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

async function privateKeyToPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\n`;
}

function certToPem(cert: InstanceType<typeof X509Module.X509Certificate>): string {
  const pem = cert.toString('pem').replace(/\r\n/g, '\n');
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}

// 16 random bytes, first byte in 0x40-0x7f: positive and minimally DER-encoded,
// which strict parsers (Go's included) require.
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}
