/**
 * Chooses where the served certificate comes from, in this order: ACME
 * (tls.acme.directoryUrl), certificate files (tls.cert/tls.key), or the
 * development CA. Returns the served certificate, the ACME challenge answers
 * when ACME is on, and a reload() for SIGHUP.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { acmeDirectoryUrl } from '../config/ops-schema.ts';
import type { Config } from '../config/schema.ts';
import { NO_PEERS, type Peers } from '../registry/peers.ts';
import type { Storage } from '../storage/storage.ts';
import type { AcmeCertificates } from './acme-certificates.ts';
import { AcmeChallenges } from './acme-challenges.ts';
import type { ChallengeType } from './acme-order.ts';
import { DEFAULT_DEV_HOSTS, createTestCertificate, ensureDevCertificates } from './dev-ca.ts';
import { FileCertificates } from './file-certificates.ts';
import { ServedCertificate } from './served-certificate.ts';

export interface TlsSetup {
  served: ServedCertificate;
  /** Set when ACME is on: what the listeners answer challenges with. */
  challenges?: AcmeChallenges;
  acme?: AcmeCertificates;
  /** The plain-HTTP port to open (challenges and redirects), if any. */
  httpPort: number | undefined;
  devCa?: string;
  /** SIGHUP: re-read the files, re-check the ACME certificate, or re-check the development one. */
  reload(): Promise<void>;
  /** After listening: start watching and ordering. */
  start(): void;
  stop(): void;
}

const publicHost = (config: Config) => new URL(config.server.publicUrl).hostname.replace(/^\[|\]$/g, '');

/** The plain-HTTP port: the configured one, 80 when ACME is on and none is configured, else none. */
export function plainHttpPort(config: Config): number | undefined {
  const { httpPort } = config.server;
  if (httpPort === 'off') return undefined;
  if (httpPort !== null) return httpPort;
  return config.tls.acme.directoryUrl !== null ? 80 : undefined;
}

export async function setupTls(
  config: Config,
  storage: Storage,
  log: Logger,
  httpPortOpen: () => boolean,
  peers: Peers = NO_PEERS,
): Promise<TlsSetup> {
  const served = new ServedCertificate(log.child({ component: 'tls' }));
  const httpPort = plainHttpPort(config);
  const base = { served, httpPort, start: () => served.startExpiryWarnings(), stop: () => served.stop() };
  if (config.tls.acme.directoryUrl !== null) return setupAcme(config, storage, log, base, httpPortOpen, peers);
  if (config.tls.cert && config.tls.key) {
    const files = new FileCertificates({ cert: config.tls.cert, key: config.tls.key }, served, log.child({ component: 'tls' }));
    await files.load();
    return {
      ...base,
      reload: async () => void (await files.reload('SIGHUP')),
      start: () => (files.watch(config.tls.watchIntervalMs), served.startExpiryWarnings()),
      stop: () => (files.stop(), served.stop()),
    };
  }
  const devCa = async (reason: string) => {
    const hosts = [...new Set([...DEFAULT_DEV_HOSTS, publicHost(config)])];
    const paths = await ensureDevCertificates(resolve(config.tls.devCertsDir), { hosts });
    if (reason === 'start') log.info({ ca: paths.caCert, created: paths.created, hosts }, 'using the development certificate authority');
    const [certPem, keyPem] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
    served.offer({ certPem, keyPem }, 'dev-ca', reason);
    return paths.caCert;
  };
  return { ...base, devCa: await devCa('start'), reload: async () => void (await devCa('SIGHUP')) };
}

async function setupAcme(
  config: Config,
  storage: Storage,
  log: Logger,
  base: Pick<TlsSetup, 'served' | 'httpPort' | 'start' | 'stop'>,
  httpPortOpen: () => boolean,
  peers: Peers,
): Promise<TlsSetup> {
  const { acme: settings } = config.tls;
  const domain = publicHost(config);
  // Loaded only with ACME on: acme-client costs every other server resident memory (docs/benchmarks.md#resident-memory).
  const [{ AcmeCertificates }, { trustAcmeCa }] = await Promise.all([import('./acme-certificates.ts'), import('./acme-order.ts')]);
  trustAcmeCa(settings.caFile);
  // Until the first certificate arrives, handshakes get a throw-away one and readiness says so.
  const placeholder = await createTestCertificate([domain]);
  base.served.offer(placeholder, 'placeholder', 'waiting for the ACME certificate');
  const challenges = new AcmeChallenges(peers);
  const challenge = (): ChallengeType => (httpPortOpen() ? 'http-01' : 'tls-alpn-01');
  const acme = new AcmeCertificates({
    storage,
    served: base.served,
    challenges,
    log,
    directoryUrl: acmeDirectoryUrl(settings.directoryUrl!),
    email: settings.email,
    domain,
    challenge,
    checkIntervalSeconds: settings.checkIntervalSeconds,
    pollIntervalMs: settings.pollIntervalMs,
    peers,
  });
  await acme.serveStored();
  return {
    ...base,
    challenges,
    acme,
    reload: () => acme.check('SIGHUP'),
    start: () => (acme.start(), base.start()),
    stop: () => (acme.stop(), base.stop()),
  };
}
