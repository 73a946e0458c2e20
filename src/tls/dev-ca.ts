/**
 * A development certificate authority kept on disk, and the server certificate
 * it signs. Layout of `dir`:
 *
 *   ca.pem            CA certificate: give this to clients (rkt: the system bundle,
 *                     see docs/tutorial.md#6-trust-the-ca-on-the-client)
 *   ca-key.pem        CA private key (0600), kept to re-issue server.pem
 *   server.pem        server certificate for the configured hosts
 *   server-key.pem    server private key (0600)
 *
 * Existing files are reused. The server certificate is re-issued when its hosts
 * change, it is near expiry, or it no longer matches its key or the CA (as after
 * a crash between two renames). The CA is replaced only when it is missing,
 * unreadable or near expiry; clients must then trust the new ca.pem.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { readFileIfExists, removeStaleTempFiles, writeFileAtomic } from './atomic-file.ts';
import { sameSans, sanEntries } from './hosts.ts';
import { certificateSans, createCertificateAuthority, issueServerCertificate, keyMatchesCertificate, type PemPair } from './issue.ts';

export interface DevCertPaths {
  caCert: string;
  cert: string;
  key: string;
}

export interface DevCertOptions {
  /** Hosts the server certificate names; defaults to localhost, 127.0.0.1 and ::1. */
  hosts?: string[];
}

export const DEFAULT_DEV_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

/** Where the development certificate files live inside `dir`. */
export function devCertPaths(dir: string): DevCertPaths & { caKey: string } {
  return {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };
}

/**
 * Makes sure `dir` holds a usable development CA and server certificate.
 * `created` is true when any file was written (a new CA or a re-issued server certificate).
 */
export async function ensureDevCertificates(dir: string, opts: DevCertOptions = {}): Promise<DevCertPaths & { created: boolean }> {
  const hosts = opts.hosts ?? DEFAULT_DEV_HOSTS;
  sanEntries(hosts); // reject bad hosts before touching the disk
  const paths = devCertPaths(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleTempFiles(dir, Object.values(paths));

  const existingCa = await readUsablePair(paths.caCert, paths.caKey);
  const ca = existingCa ?? (await writePair(paths.caCert, paths.caKey, await createCertificateAuthority()));
  let created = existingCa === undefined;

  const server = created ? undefined : await readUsablePair(paths.cert, paths.key);
  if (server === undefined || !servesHosts(server, ca, hosts)) {
    await writePair(paths.cert, paths.key, await issueServerCertificate(ca, hosts));
    created = true;
  }
  await restrictKeyMode(paths.caKey);
  await restrictKeyMode(paths.key);
  return { caCert: paths.caCert, cert: paths.cert, key: paths.key, created };
}

/**
 * A fresh CA and a server certificate for `hosts`, in memory only; for tests
 * that need real TLS (the CA is thrown away, so nothing else can trust it).
 */
export async function createTestCertificate(
  hosts: string[] = [...DEFAULT_DEV_HOSTS],
): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const ca = await createCertificateAuthority();
  const server = await issueServerCertificate(ca, hosts);
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem };
}

// A certificate and its key, if both exist, match, and stay valid past the renewal window.
async function readUsablePair(certPath: string, keyPath: string): Promise<PemPair | undefined> {
  const certPem = await readFileIfExists(certPath);
  const keyPem = await readFileIfExists(keyPath);
  if (certPem === undefined || keyPem === undefined) return undefined;
  const pair = { certPem, keyPem };
  if (!keyMatchesCertificate(pair)) return undefined;
  const cert = new X509Certificate(certPem);
  const now = Date.now();
  if (cert.validFromDate.getTime() > now || cert.validToDate.getTime() - now < RENEW_BEFORE_MS) return undefined;
  return pair;
}

function servesHosts(server: PemPair, ca: PemPair, hosts: readonly string[]): boolean {
  const cert = new X509Certificate(server.certPem);
  const caCert = new X509Certificate(ca.certPem);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return false;
  return sameSans(certificateSans(server.certPem), sanEntries(hosts));
}

// The key goes first: a crash before the certificate's rename leaves a pair
// that readUsablePair() rejects, so the next run issues again.
async function writePair(certPath: string, keyPath: string, pair: PemPair): Promise<PemPair> {
  await writeFileAtomic(keyPath, pair.keyPem, KEY_MODE);
  await writeFileAtomic(certPath, pair.certPem, CERT_MODE);
  return pair;
}

// Private keys copied in by hand may be readable by others; narrow them.
async function restrictKeyMode(path: string): Promise<void> {
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) await chmod(path, KEY_MODE);
}
