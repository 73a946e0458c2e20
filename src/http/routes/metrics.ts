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

  app.get('/-/metrics', async (request, reply) => {
    if (opts.requireToken) {
      authorizeScope(await registry.tokens.authenticate(presentedToken(request)), 'metrics');
    }
    metrics.indexVersions.set(registry.catalog.size);
    // Counted by the upload service and the sweep: a scrape never lists the sessions.
    metrics.uploadSessions.set(registry.uploads.openSessions);
    // From the polled token records: a scrape reads no storage.
    metrics.tokensExpiring.set(registry.tokens.expiringSoon(new Date()).length);
    metrics.recordQuotas(registry.quotas.uses());
    const served = state.certificate?.get();
    if (served) metrics.certificateExpiry.set(Math.floor(served.info.notAfter.getTime() / 1000));
    if (state.certificate) metrics.certificateValid.set(state.certificate.valid() ? 1 : 0);
    const text = await metrics.registry.metrics();
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(text);
  });
}
