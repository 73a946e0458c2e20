import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/schema.ts';
import type { Registry } from './registry/registry.ts';
import { answerFrameworkError, registerErrorHandler } from './http/error-handler.ts';
import { clientErrorHandler } from './http/client-errors.ts';
import { acpushRoutes } from './http/routes/acpush.ts';
import { apiImageRoutes } from './http/routes/api-images.ts';
import { apiKeyRoutes } from './http/routes/api-keys.ts';
import { apiTokenRoutes } from './http/routes/api-tokens.ts';
import { recordTokenUse } from './http/token-use.ts';
import { apiMetaRoutes } from './http/routes/api-meta.ts';
import { apiConversionRoutes } from './http/routes/api-conversions.ts';
import { apiQuotaRoutes } from './http/routes/api-quotas.ts';
import { apiRetentionRoutes } from './http/routes/api-retention.ts';
import { apiWebhookRoutes } from './http/routes/api-webhooks.ts';
import { discoveryRoutes } from './http/routes/discovery.ts';
import { fileRoutes } from './http/routes/files.ts';
import { keyRoutes } from './http/routes/keys.ts';
import { pubkeysRoutes } from './http/routes/pubkeys.ts';
import { pushRoutes } from './http/routes/push.ts';
import { AccessLog } from './http/access-log.ts';
import { MemoryAnswers } from './http/memory-answers.ts';
import { PageCache } from './discovery/page-cache.ts';
import { clientAddressOf } from './http/client-address.ts';
import { limitFailedAuth } from './http/failed-auth-limit.ts';
import { UploadSlots } from './http/upload-slots.ts';
import { presentedToken } from './http/credentials.ts';
import { healthRoutes } from './http/routes/health.ts';
import { metricsRoutes } from './http/routes/metrics.ts';
import { ServerState } from './ops/lifecycle/server-state.ts';
import { NO_PEERS, type Peers } from './registry/peers.ts';
import { registerOpenApi } from './http/api/openapi.ts';
import { addApiSchemas } from './http/api/schemas.ts';

/** The configuration sections the HTTP layer uses. */
export type AppSettings = Pick<Config, 'server' | 'rateLimit' | 'limits' | 'metrics'>;

export interface AppOptions {
  registry: Registry;
  settings: AppSettings;
  logger: Logger;
  /** The development CA's certificate file, when it signed the served certificate: the page's commands name it. */
  devCa?: string;
  /** Hears the size of every chunk of a file served from storage (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
  /** Supplied by src/server.ts (TLS) or by tests; the app itself never listens. */
  serverFactory?: FastifyServerFactory;
  /** Metrics, the served certificate and the shutdown flag, for /-/health and /-/metrics (src/server.ts owns them). */
  state?: ServerState;
  /** The other workers of this server, when it has several (src/registry/peers.ts). */
  peers?: Peers;
}

/** Builds the HTTP application over a started registry. */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { registry, settings } = opts;
  const state = opts.state ?? new ServerState();
  const trustProxy = settings.server.trustProxy.length > 0 ? settings.server.trustProxy : false;
  const requestIds = requestIdSequence();
  const clientAddress = clientAddressOf(trustProxy);
  const accessLog = new AccessLog(state.metrics.http, opts.logger);
  const stamp = () => registry.generation;
  const cacheBytes = settings.limits.answerCacheBytes;
  const pages = new PageCache(cacheBytes, stamp);
  const answers = new MemoryAnswers({
    stamp,
    maxBytes: cacheBytes,
    shuttingDown: () => state.shuttingDown,
    nextId: requestIds,
    kindOf: (route, url) => accessLog.kind('GET', route, url, 200),
    record: (kind, request, reqId, ms) => {
      state.metrics.http.fromMemory++;
      // Kept answers are anonymous GETs: no token to name.
      accessLog.record(kind, { reqId, ms, socket: request.socket, tokenId: null, ip: clientAddress(request) });
    },
  });
  state.metrics.watchCache('pages', pages.use);
  state.metrics.watchCache('answers', answers.use);
  const factory = opts.serverFactory;
  const serverFactory: FastifyServerFactory | undefined =
    factory && ((handler, o) => factory((req, res) => answers.answer(req, res) || handler(req, res), o));
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    // Answers kept in memory are given before Fastify routes the request (src/http/memory-answers.ts).
    serverFactory,
    genReqId: requestIds,
    // One access line per request (the onResponse hook below) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    // Refusals before any route runs (unparsable HTTP, a bad URL) answer in the shape of every other error.
    clientErrorHandler: clientErrorHandler(opts.logger as FastifyBaseLogger, settings.server),
    frameworkErrors: answerFrameworkError,
    // X-Forwarded-For/-Proto are believed only from these proxies (request.ip, the rate limit, the access log).
    trustProxy,
  });

  // 1. Infrastructure: errors first, so every later plugin's failures share one shape.
  registerErrorHandler(app);
  // One access log line and the request metrics per request; then failed authentication limited per address.
  accessLog.observe(app);
  limitFailedAuth(app, {
    attempts: settings.rateLimit.failedAuthAttempts,
    windowSeconds: settings.rateLimit.windowSeconds,
    metrics: state.metrics,
    peers: opts.peers ?? NO_PEERS,
    validTokenId: (request) =>
      registry.tokens.authenticate(presentedToken(request)).then(
        (t) => t.id,
        () => undefined,
      ),
  });
  // When each token was last used: at most a write a minute per token, and never for a refusal.
  recordTokenUse(app, registry);
  // Bodies of any other type reach the handlers unread: they stream what they accept and
  // answer with their own error (acpush sends parts with no Content-Type at all).
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // Multipart parsing is registered inside the push routes only (src/http/routes/push.ts):
  // at the root its hooks would run on every request.
  // Response schemas describe answers (the OpenAPI document, checked by the tests) but do not
  // write them: JSON.stringify sends every field as the handler made it, in its order.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  addApiSchemas(app);
  // Before any route: the description is collected from the routes as they are added.
  await registerOpenApi(app, registry.origin);

  // 2. Routes: reserved /-/ paths, then the discovery catch-all (find-my-way prefers the longer static prefix).
  // Health and metrics: no token by default (metrics.requireToken), no storage writes.
  await app.register(healthRoutes, { registry, state });
  await app.register(metricsRoutes, { registry, state, requireToken: settings.metrics.requireToken });
  await app.register(fileRoutes, { registry, answers, onBytes: opts.onBytes });
  await app.register(keyRoutes, { registry, answers });
  // Both front doors share each token's upload slots.
  const uploadSlots = new UploadSlots(settings.limits.maxConcurrentUploadsPerToken);
  const { maxCompressedBytes } = settings.limits;
  await app.register(pushRoutes, { registry, uploadSlots, maxCompressedBytes });
  // The acpush protocol, the second front door to the same publish; its scope reads every body raw.
  await app.register(acpushRoutes, { registry, uploadSlots, maxCompressedBytes });
  // The JSON API for tools (/-/api/...; unknown API paths answer JSON, not the page for people).
  await app.register(apiImageRoutes, { registry });
  await app.register(apiKeyRoutes, { registry });
  await app.register(apiTokenRoutes, { registry });
  await app.register(apiQuotaRoutes, { registry });
  await app.register(apiRetentionRoutes, { registry });
  await app.register(apiWebhookRoutes, { registry });
  await app.register(apiConversionRoutes, { registry });
  await app.register(apiMetaRoutes);
  // pubkeys.gpg at any depth shares discovery's `/*`; a route constraint on the last segment picks it.
  await app.register(pubkeysRoutes, { registry, answers });
  await app.register(discoveryRoutes, { registry, answers, pages, devCa: opts.devCa });
  return app;
}

/** Fastify's own request ids (req-1, req-2, ...), shared with the answers given from memory. */
function requestIdSequence(): () => string {
  let last = 0;
  // Kept a small integer, as Fastify does, so the counter never turns into a slower float.
  return () => `req-${(last = (last + 1) & 0x7fffffff).toString(36)}`;
}
