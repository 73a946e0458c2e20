import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import multipart from '@fastify/multipart';
import type { Registry } from './registry/registry.ts';
import { registerErrorHandler } from './http/error-handler.ts';
import { acpushRoutes } from './http/routes/acpush.ts';
import { apiImageRoutes } from './http/routes/api-images.ts';
import { apiKeyRoutes } from './http/routes/api-keys.ts';
import { apiMetaRoutes } from './http/routes/api-meta.ts';
import { discoveryRoutes } from './http/routes/discovery.ts';
import { fileRoutes } from './http/routes/files.ts';
import { keyRoutes } from './http/routes/keys.ts';
import { pubkeysRoutes } from './http/routes/pubkeys.ts';
import { pushRoutes } from './http/routes/push.ts';

export interface AppOptions {
  registry: Registry;
  logger: FastifyBaseLogger;
  /** Supplied by src/server.ts (TLS) or by tests; the app itself never listens. */
  serverFactory?: FastifyServerFactory;
}

/** Builds the HTTP application over a started registry. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { registry } = opts;
  const app = Fastify({
    loggerInstance: opts.logger,
    serverFactory: opts.serverFactory,
    // One access line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });

  // 1. Infrastructure: errors first, so every later plugin's failures share one shape.
  registerErrorHandler(app);
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request completed',
    );
  });
  // Bodies of any other type reach the handlers unread: they stream what they accept and
  // answer with their own error (acpush sends parts with no Content-Type at all).
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  await app.register(multipart, {
    limits: { fileSize: registry.config.limits.maxCompressedBytes + 1, files: 2, fields: 2, parts: 4, headerPairs: 64 },
  });

  // 2. Routes: reserved /-/ paths, then the discovery catch-all (find-my-way prefers the longer static prefix).
  await app.register(fileRoutes, { registry });
  await app.register(keyRoutes, { registry });
  await app.register(pushRoutes, { registry });
  // The acpush protocol, the second front door to the same publish; its scope reads every body raw.
  await app.register(acpushRoutes, { registry });
  // The JSON API for tools (/-/api/...; unknown API paths answer JSON, not the page for people).
  await app.register(apiImageRoutes, { registry });
  await app.register(apiKeyRoutes, { registry });
  await app.register(apiMetaRoutes, { registry });
  // pubkeys.gpg at any depth shares discovery's `/*`; a route constraint on the last segment picks it.
  await app.register(pubkeysRoutes, { registry });
  await app.register(discoveryRoutes, { registry });
  return app;
}
