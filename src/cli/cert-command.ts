/**
 * `acihost cert info`: what the server would serve (source, subject, SANs,
 * issuer, validity), read the way the server reads it. `acihost cert renew`:
 * asks running servers to order a new ACME certificate now.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { AcmeStore } from '../tls/acme-store.ts';
import { daysLeft, describeCertificate, type CertificateInfo } from '../tls/certificate-info.ts';
import { devCertPaths } from '../tls/dev-ca.ts';
import { keyMatchesCertificate } from '../tls/issue.ts';
import { usageError, type CliValues } from './args.ts';
import { withRegistry } from './open-registry.ts';

interface Found {
  source: string;
  location: string;
  info?: CertificateInfo;
  note?: string;
}

async function fromFiles(cert: string, key: string): Promise<Found> {
  const [certPem, keyPem] = await Promise.all([readFile(cert, 'utf8'), readFile(key, 'utf8')]);
  const note = keyMatchesCertificate({ certPem, keyPem })
    ? undefined
    : 'the key file does not belong to this certificate: the server refuses it';
  return { source: 'files', location: `${cert} + ${key}`, info: describeCertificate(certPem), note };
}

async function fromAcme(config: Config): Promise<Found> {
  const stored = await withRegistry(config, (_registry, storage) => new AcmeStore(storage).certificate());
  const location = `storage (acme/certificate.json), ordered from ${config.tls.acme.directoryUrl}`;
  if (!stored) return { source: 'acme', location, note: 'no certificate yet: a running server orders one at start' };
  return { source: 'acme', location, info: describeCertificate(stored.certPem) };
}

async function fromDevCa(config: Config): Promise<Found> {
  const paths = devCertPaths(resolve(config.tls.devCertsDir));
  const certPem = await readFile(paths.cert, 'utf8').catch(() => undefined);
  if (certPem === undefined) return { source: 'dev-ca', location: paths.cert, note: 'not created yet: the server creates it at start' };
  return { source: 'dev-ca', location: paths.cert, info: describeCertificate(certPem), note: `clients trust ${paths.caCert}` };
}

async function find(config: Config): Promise<Found> {
  if (!config.tls.enabled)
    return { source: 'off', location: 'none', note: 'TLS is off (ACIHOST_TLS=off): the proxy in front serves the certificate' };
  if (config.tls.acme.directoryUrl !== null) return fromAcme(config);
  if (config.tls.cert && config.tls.key) return fromFiles(config.tls.cert, config.tls.key);
  return fromDevCa(config);
}

function print(found: Found): void {
  const lines: [string, string][] = [
    ['source', found.source],
    ['location', found.location],
  ];
  const { info } = found;
  if (info) {
    lines.push(
      ['subject', info.subject],
      ['sans', info.sans.join(', ')],
      ['issuer', info.issuer],
      ['not before', info.notBefore.toISOString()],
      ['not after', `${info.notAfter.toISOString()} (${Math.floor(daysLeft(info))} days left)`],
      ['sha256', info.sha256],
    );
  }
  if (found.note) lines.push(['note', found.note]);
  for (const [label, value] of lines) process.stdout.write(`${`${label}:`.padEnd(12)}${value}\n`);
}

/** `acihost cert info [--json]` */
export async function certInfo(config: Config, _args: string[], values: CliValues): Promise<number> {
  const found = await find(config);
  if (values.json) process.stdout.write(JSON.stringify(found) + '\n');
  else print(found);
  return 0;
}

/** `acihost cert renew` */
export async function certRenew(config: Config): Promise<number> {
  if (config.tls.acme.directoryUrl === null)
    throw usageError('cert renew applies to ACME certificates (tls.acme); reload certificate files with SIGHUP');
  await withRegistry(config, (_registry, storage) => new AcmeStore(storage).requestRenewal());
  process.stdout.write(
    `renewal requested: a running server orders a new certificate within ${config.tls.acme.checkIntervalSeconds} s (at once on SIGHUP)\n`,
  );
  return 0;
}
