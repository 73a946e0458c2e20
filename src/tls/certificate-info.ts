/**
 * What a certificate says (for `acihost cert info`, logs and metrics), and the
 * checks a certificate must pass before it replaces the one being served.
 */
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { keyMatchesCertificate, type PemPair } from './issue.ts';

export interface CertificateInfo {
  subject: string;
  sans: string[];
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
  sha256: string;
}

/** The leaf (first) certificate of a PEM chain, described. */
export function describeCertificate(certPem: string): CertificateInfo {
  const cert = new X509Certificate(certPem);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    sans: (cert.subjectAltName ?? '').split(', ').filter(Boolean),
    issuer: cert.issuer.replace(/\n/g, ', '),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
    serial: cert.serialNumber,
    sha256: cert.fingerprint256,
  };
}

/**
 * Throws an Error saying why `pair` must not be served: unreadable, key and
 * certificate from different pairs (as in the middle of a renewal that wrote one
 * file), not yet valid or expired, or refused by OpenSSL itself.
 */
export function checkServable(pair: PemPair, now = new Date()): CertificateInfo {
  let info: CertificateInfo;
  try {
    info = describeCertificate(pair.certPem);
  } catch (cause) {
    throw new Error('the certificate file does not hold a readable PEM certificate', { cause });
  }
  if (!keyMatchesCertificate(pair)) throw new Error('the private key does not belong to the certificate');
  if (info.notAfter.getTime() <= now.getTime()) throw new Error(`the certificate expired at ${info.notAfter.toISOString()}`);
  if (info.notBefore.getTime() > now.getTime()) throw new Error(`the certificate is not valid before ${info.notBefore.toISOString()}`);
  try {
    createSecureContext({ cert: pair.certPem, key: pair.keyPem });
  } catch (cause) {
    throw new Error(`TLS refuses the certificate: ${(cause as Error).message}`, { cause });
  }
  return info;
}

/** Days from `now` until `info` expires (negative once expired). */
export const daysLeft = (info: CertificateInfo, now = new Date()): number => (info.notAfter.getTime() - now.getTime()) / 86_400_000;
