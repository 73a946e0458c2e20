import type { FastifyInstance } from 'fastify';
import { prefixCovers } from '../../names.ts';
import type { Registry } from '../../registry/registry.ts';
import { listQueryErrors, parsePrefix } from '../api/list-query.ts';
import { quotasJson } from '../api/quota-json.ts';
import { errorResponses, ref, security } from '../api/schemas.ts';
import { optionalToken, privateResponse } from '../viewer.ts';

const quotasSchema = {
  operationId: 'listQuotas',
  summary: 'The quotas per prefix, with what is used of each',
  description:
    'With `prefix`, the quotas that hold for names there (on it or above it) and those below it. ' +
    'Use is null for a quota overlapping a private prefix unless the token has the pull scope for a prefix covering it.',
  security: security.optionalToken,
  querystring: {
    type: 'object',
    properties: {
      prefix: { type: 'string', description: 'only the quotas on, above or below this prefix', examples: ['aci.example.com/team'] },
    },
  },
  response: {
    200: {
      description: 'The quotas, by prefix',
      type: 'object',
      required: ['quotas'],
      properties: { quotas: { type: 'array', items: ref('Quota') } },
    },
    ...errorResponses(401, 422, 429),
  },
};

/** `GET /-/api/quotas[?prefix=P]`. */
export async function apiQuotaRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  app.get<{ Querystring: { prefix?: string } }>(
    '/-/api/quotas',
    { schema: quotasSchema, schemaErrorFormatter: listQueryErrors },
    async (request, reply) => {
      const given = request.query.prefix;
      const prefix = given === undefined ? undefined : parsePrefix(given, registry.domain);
      const viewer = await optionalToken(registry, request);
      const quotas = registry.quotas
        .uses()
        .filter((q) => prefix === undefined || prefixCovers(q.prefix, prefix) || prefixCovers(prefix, q.prefix));
      // Use moves with every push and depends on the viewer: never shared by a cache.
      return privateResponse(reply, true).send({ quotas: quotasJson(registry, viewer, quotas) });
    },
  );
}
