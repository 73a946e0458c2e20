/**
 * `GET /-/metrics`: the Prometheus text format. Open by default (like most
 * exporters, for a scraper on a private network); with metrics.requireToken it
 * needs a token with the `metrics` scope.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerState } from '../../ops/lifecycle/server-state.ts';
import type { Registry } from '../../registry/registry.ts';
import { authorizeScope } from '../../registry/access/tokens.ts';
import { presentedToken } from '../credentials.ts';

export async function metricsRoutes(
  app: FastifyInstance,
  opts: { registry: Registry; state: ServerState; requireToken: boolean },
): Promise<void> {
  const { registry, state } = opts;
  const { metrics } = state;
  const certificate = state.certificate;
  metrics.readFrom({
    indexVersions: () => registry.catalog.size,
    uploadSessions: () => registry.uploads.openSessions,
    tokensExpiring: () => registry.tokens.expiringSoon(new Date()).length,
    quotas: () => registry.quotas.uses(),
    certificate:
      certificate &&
      (() => {
        const served = certificate.get();
        return { notAfterSeconds: served && Math.floor(served.info.notAfter.getTime() / 1000), valid: certificate.valid() };
      }),
  });

  app.get('/-/metrics', async (request, reply) => {
    if (opts.requireToken) {
      authorizeScope(await registry.tokens.authenticate(presentedToken(request)), 'metrics');
    }
    const text = await state.scrape();
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(text);
  });
}
