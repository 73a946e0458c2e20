import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { FastifyInstance, FastifyServerFactoryHandler } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { guardSlowClients } from './http/slow-client-guard.ts';
import type { Config } from './config/schema.ts';
import { applyHeapPolicy, heapTuning } from './runtime/heap-policy.ts';
import { InFlight } from './ops/lifecycle/in-flight.ts';
import { Metrics } from './ops/metrics/metrics.ts';
import { countPushes } from './ops/metrics/push-metrics.ts';
import { ServerState } from './ops/lifecycle/server-state.ts';
import { CLEANUP_MS, Shutdown } from './ops/lifecycle/shutdown.ts';
import { Registry, registrySettings } from './registry/registry.ts';
import { NO_PEERS } from './registry/peers.ts';
import type { WorkerLink } from './ops/workers/worker-link.ts';
import { readSigningSecret } from './registry/trust/signing-secret.ts';
import type { StepHook } from './registry/publish/steps.ts';
import { createStorage } from './storage/create-storage.ts';
import { MeteredStorage } from './storage/metered-storage.ts';
import type { Storage } from './storage/storage.ts';
import { AcmeChallenges } from './tls/acme-challenges.ts';
import { createRedirectServer } from './tls/http-redirect.ts';
import { httpsOptions } from './tls/options.ts';
import { setupTls, type TlsSetup } from './tls/tls-setup.ts';

export interface RunningServer {
  app: FastifyInstance;
  registry: Registry;
  /** The storage the registry works on, metered (tests watch it). */
  storage: Storage;
  state: ServerState;
  /** Where this machine reaches the server, e.g. https://127.0.0.1:43121 (http:// with TLS off). */
  url: string;
  /** The address the listener bound, as a URL: https://0.0.0.0:8443 when it listens on every interface. */
  boundUrl: string;
  /** The plain-HTTP listener (ACME challenges, redirects), when open. */
  httpUrl?: string;
  /** The development CA's certificate file, when no certificate was configured. */
  devCa?: string;
  /** SIGHUP: reload certificate files, or re-check the ACME certificate. */
  reload(): Promise<void>;
  /**
   * SIGTERM: readiness fails for server.shutdownDelaySeconds, then the listener closes and
   * requests in flight finish (src/ops/lifecycle/shutdown.ts). SIGINT, Ctrl-C at a terminal, skips
   * the readiness delay: it is for load balancers, which stop a server with SIGTERM.
   */
  shutdown(signal?: 'SIGTERM' | 'SIGINT'): Promise<void>;
  /** Closes at once (tests, and after a failed start). */
  close(): Promise<void>;
}

/**
 * Fault injection for the crash tests, off unless ACIHOST_TEST_KILL_AT names a
 * publish or delete step: the process then dies by SIGKILL there, as in a power cut.
 */
function crashHook(log: Logger): StepHook | undefined {
  const killAt = process.env.ACIHOST_TEST_KILL_AT;
  if (!killAt) return undefined;
  log.warn({ killAt }, 'test fault injection is on');
  return (step) => {
    if (step === killAt) process.kill(process.pid, 'SIGKILL');
  };
}

/** The HTTPS listener (plain HTTP with TLS off) with the timeouts of server.* applied. */
function createListener(config: Config, handler: FastifyServerFactoryHandler, tls: TlsSetup | undefined): HttpServer {
  // Timeouts are enforced by a periodic check; check often enough for short test timeouts.
  const connectionsCheckingInterval = Math.min(30_000, (config.server.headersTimeoutSeconds * 1000) / 2);
  let server: HttpServer;
  if (tls) {
    const served = tls.served.get()!;
    const https = createHttpsServer({
      ...httpsOptions(served.certPem, served.keyPem),
      ...tls.challenges?.tlsOptions(),
      connectionsCheckingInterval,
    });
    // New handshakes get the new certificate; open connections keep theirs.
    tls.served.onChange((next) => https.setSecureContext(httpsOptions(next.certPem, next.keyPem)));
    server = https;
  } else {
    server = createHttpServer({ connectionsCheckingInterval });
  }
  server.headersTimeout = config.server.headersTimeoutSeconds * 1000;
  server.requestTimeout = config.server.requestTimeoutSeconds * 1000;
  server.keepAliveTimeout = config.server.keepAliveTimeoutSeconds * 1000;
  // A stalled client (no bytes either way) is dropped after the idle timeout; a crawling one by the guard.
  server.timeout = config.server.idleTimeoutSeconds * 1000;
  const watch = guardSlowClients(server, {
    windowMs: config.server.idleTimeoutSeconds * 1000,
    minBytesPerSecond: config.server.minTransferBytesPerSecond,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handler(req, res);
    // An answer already ended (from memory) holds no file or staging space, only its connection,
    // which the idle timeout closes if the client stops reading.
    if (!res.writableEnded) watch(req, res);
  });
  return server;
}

/** Opens the plain-HTTP listener; a port that cannot be bound (80 without the capability) is logged, not fatal. */
async function listenRedirect(config: Config, tls: TlsSetup, origin: string, log: Logger): Promise<HttpServer | undefined> {
  if (tls.httpPort === undefined) return undefined;
  // Without ACME it only redirects (no challenge is ever open).
  const server = createRedirectServer(origin, tls.challenges ?? new AcmeChallenges());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tls.httpPort, config.server.host, () => resolve());
    });
    return server;
  } catch (err) {
    log.warn({ err, port: tls.httpPort }, 'failed to open the plain-HTTP port; ACME, if on, uses TLS-ALPN-01 on the HTTPS port instead');
    return undefined;
  }
}

const urlHost = (address: string) => (address.includes(':') ? `[${address}]` : address);

/** A URL's host for reaching a configured listen address; "every interface" is reached on loopback. */
const hostForUrl = (host: string) => {
  const h = urlHost(host);
  return h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '[::1]' : h;
};

/**
 * Starts the server: storage indexes, TLS, listeners. The only place that listens. A worker
 * of several (src/ops/workers/) passes its link to the supervisor: its peers, and the scrape
 * of every worker's metrics.
 */
export async function startServer(config: Config, log: Logger, link?: WorkerLink): Promise<RunningServer> {
  // Before the catalogue is loaded: that load is what would first grow the young generation.
  applyHeapPolicy();
  // Fault injection for the supervisor's test: every worker but the first dies as it starts.
  if (link && link.slot > 0 && process.env.ACIHOST_TEST_KILL_AT === 'worker-start') process.kill(process.pid, 'SIGKILL');
  const peers = link?.peers ?? NO_PEERS;
  const metrics = new Metrics();
  link?.shareMetrics(metrics.registry);
  const heap = heapTuning();
  const storage = new MeteredStorage(createStorage(config), metrics.storageMeter);
  const registry = new Registry(storage, registrySettings(config), log, {
    onStep: crashHook(log),
    onBytes: heap.streamed,
    afterSweep: heap.collectAll,
    onVerified: (summary) => metrics.recordVerifyRun(summary),
    onRetention: (summary) => metrics.recordRetentionRun(summary),
    onWebhookAttempt: (report) => metrics.recordWebhookAttempt(report),
    signingSecret: readSigningSecret(),
    peers,
  });
  countPushes(registry.audit, metrics);
  await registry.start();
  let redirect: HttpServer | undefined;
  // ACME can be started before the redirect listener: a challenge type is chosen per order.
  const tls = config.tls.enabled ? await setupTls(config, storage, log, () => redirect?.listening === true, peers) : undefined;
  const state = new ServerState({ metrics, certificate: tls?.served, scrape: link && (() => link.scrape()) });
  const inFlight = new InFlight();
  const app = await buildApp({
    registry,
    settings: config,
    logger: log,
    state,
    devCa: tls?.devCa,
    onBytes: heap.streamed,
    peers,
    serverFactory: (handler) => createListener(config, handler, tls),
  });
  inFlight.track(app);
  // Fastify would log an http:// address here whatever the factory made; 'acihost listening' below says it right.
  await app.listen({ host: config.server.host, port: config.server.port, listenTextResolver: () => 'listener bound' });
  if (tls) redirect = await listenRedirect(config, tls, registry.origin, log);
  tls?.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${hostForUrl(config.server.host)}:${port}`;
  const boundUrl = typeof address === 'object' && address ? `${scheme}://${urlHost(address.address)}:${address.port}` : url;
  const httpAddress = redirect?.address();
  const httpUrl =
    typeof httpAddress === 'object' && httpAddress ? `http://${hostForUrl(config.server.host)}:${httpAddress.port}` : undefined;
  log.info(
    { publicUrl: config.server.publicUrl, port, tls: tls !== undefined, httpUrl, images: registry.catalog.size },
    'acihost listening',
  );

  const closeRest = async () => {
    tls?.stop();
    if (redirect) await new Promise<void>((resolve) => redirect!.close(() => resolve()).closeAllConnections());
    await registry.close();
  };
  const shutdown = new Shutdown();
  return {
    app,
    registry,
    storage,
    state,
    url,
    boundUrl,
    httpUrl,
    devCa: tls?.devCa,
    reload: async () => {
      log.info('reloading certificates');
      await tls?.reload();
    },
    shutdown: (signal = 'SIGTERM') =>
      shutdown.run(
        { app, state, inFlight, closeRest },
        {
          delaySeconds: signal === 'SIGINT' ? 0 : config.server.shutdownDelaySeconds,
          graceSeconds: config.server.shutdownGraceSeconds,
        },
        log,
      ),
    close: async () => {
      const closed = app.close();
      // At once: requests in flight are cut, and an upload's handler removes its staging before the rest closes.
      app.server.closeAllConnections();
      await inFlight.drained(CLEANUP_MS);
      await closed;
      await closeRest();
    },
  };
}
