import type { FastifyInstance } from 'fastify';
import { urls } from '../../discovery/urls.ts';
import type { Registry } from '../../registry/registry.ts';

/** `GET /-/api/keys`: every trusted key without its armored body (that is at its url). Public, like the keys. */
export async function apiKeyRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  app.get('/-/api/keys', async (_request, reply) => {
    const keys = registry.keys.all().map((k) => ({
      fingerprint: k.fingerprint,
      prefixes: k.prefixes,
      algorithm: k.algorithm,
      userIds: k.userIds,
      created: k.created,
      expires: k.expires,
      addedAt: k.addedAt,
      url: urls.key(registry.origin, k.fingerprint),
    }));
    return reply.header('cache-control', 'no-cache').send({ keys });
  });
}
