import type { FastifyInstance } from 'fastify';
import { urls } from '../../discovery/urls.ts';
import type { Registry } from '../../registry/registry.ts';
import { errorResponses, security } from '../api/schemas.ts';

const keysSchema = {
  operationId: 'listKeys',
  summary: 'Trusted signing keys and the prefixes they are trusted for',
  security: security.public,
  response: {
    200: {
      description: 'The keys, oldest first; each armored key is at its url',
      type: 'object',
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            required: ['fingerprint', 'prefixes', 'algorithm', 'userIds', 'created', 'expires', 'addedAt', 'url'],
            properties: {
              fingerprint: { type: 'string', pattern: '^[0-9a-f]{40}$' },
              prefixes: { type: 'array', items: { type: 'string' } },
              algorithm: { type: 'string' },
              userIds: { type: 'array', items: { type: 'string' } },
              created: { type: 'string', format: 'date-time' },
              expires: { type: ['string', 'null'], format: 'date-time' },
              addedAt: { type: 'string', format: 'date-time' },
              url: { type: 'string', format: 'uri', description: 'the armored key' },
            },
          },
        },
      },
    },
    ...errorResponses(429),
  },
};

/** `GET /-/api/keys`: every trusted key without its armored body (that is at its url). Public, like the keys. */
export async function apiKeyRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  app.get('/-/api/keys', { schema: keysSchema }, async (_request, reply) => {
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
