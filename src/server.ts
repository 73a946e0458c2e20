import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { guardSlowClients } from './http/slow-client-guard.ts';
import type { Config } from './config/schema.ts';
import { Registry } from './registry/registry.ts';
import type { StepHook } from './registry/steps.ts';
import { ensureDevCertificates } from './tls/dev-ca.ts';
import { httpsOptions } from './tls/options.ts';

export interface RunningServer {
  app: FastifyInstance;
  registry: Registry;
  /** The address actually bound, e.g. https://127.0.0.1:43121 */
  url: string;
  /** The development CA's certificate file, when no certificate was configured. */
  devCa?: string;
  close(): Promise<void>;
}

async function loadCertificate(config: Config, log: Logger): Promise<{ cert: Buffer; key: Buffer; devCa?: string }> {
  if (config.tls.cert && config.tls.key) {
    return { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) };
  }
  const dir = resolve(config.tls.devCertsDir);
  const paths = await ensureDevCertificates(dir);
  log.info({ ca: paths.caCert, created: paths.created }, 'using the development certificate authority');
  return { cert: await readFile(paths.cert), key: await readFile(paths.key), devCa: paths.caCert };
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

/** Starts the HTTPS server: storage indexes, TLS, listener. The only place that listens. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const registry = new Registry(config, log, { onStep: crashHook(log) });
  await registry.start();
  const { cert, key, devCa } = await loadCertificate(config, log);
  const app = await buildApp({
    registry,
    logger: log,
    serverFactory: (handler) => {
      // Timeouts are enforced by a periodic check; check often enough for short test timeouts.
      const connectionsCheckingInterval = Math.min(30_000, (config.server.headersTimeoutSeconds * 1000) / 2);
      const server = createServer({ ...httpsOptions(cert, key), connectionsCheckingInterval }, handler);
      server.headersTimeout = config.server.headersTimeoutSeconds * 1000;
      server.requestTimeout = config.server.requestTimeoutSeconds * 1000;
      server.keepAliveTimeout = config.server.keepAliveTimeoutSeconds * 1000;
      // A stalled client (no bytes either way) is dropped after the idle timeout; a crawling one by the guard.
      server.timeout = config.server.idleTimeoutSeconds * 1000;
      guardSlowClients(server, {
        windowMs: config.server.idleTimeoutSeconds * 1000,
        minBytesPerSecond: config.server.minTransferBytesPerSecond,
      });
      return server;
    },
  });
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  log.info({ publicUrl: config.server.publicUrl, port, images: registry.catalog.size }, 'acihost listening');
  return {
    app,
    registry,
    url: `https://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    devCa,
    close: async () => {
      await app.close();
      await registry.close();
    },
  };
}
