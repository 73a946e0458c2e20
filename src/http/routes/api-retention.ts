import type { FastifyInstance } from 'fastify';
import { authorize } from '../../registry/access/tokens.ts';
import type { Registry } from '../../registry/registry.ts';
import { removalsJson } from '../../registry/upkeep/retention-plan.ts';
import { listQueryErrors, listQuerySchema, parsePrefix, refuseRepeatedListKeys } from '../api/list-query.ts';
import { errorResponses, ref, security } from '../api/schemas.ts';
import { presentedToken } from '../credentials.ts';

const planSchema = {
  operationId: 'planRetention',
  summary: 'The versions the retention policies would remove now, and the bytes that would free',
  description:
    'Needs a token with the delete scope for a prefix covering `prefix`. Each name is judged by the policy of the ' +
    'longest prefix covering it (`acihost retention set`), which may lie above `prefix`. Nothing is removed.',
  security: security.token,
  querystring: { type: 'object', properties: { prefix: listQuerySchema.properties.prefix } },
  response: {
    200: {
      description: 'What applying the policies now would remove, in name, os/arch and push order',
      type: 'object',
      required: ['prefix', 'versions', 'count', 'bytes'],
      properties: {
        prefix: { type: 'string' },
        versions: { type: 'array', items: ref('RetentionRemoval') },
        count: { type: 'integer', minimum: 0 },
        bytes: { type: 'integer', minimum: 0, description: 'what removing them all would free' },
      },
    },
    ...errorResponses(401, 403, 422, 429),
  },
};

/** `GET /-/api/retention/plan`: what retention would remove under a prefix, for a token that could delete it. */
export async function apiRetentionRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  app.get<{ Querystring: { prefix?: string } }>(
    '/-/api/retention/plan',
    { schema: planSchema, preValidation: refuseRepeatedListKeys, schemaErrorFormatter: listQueryErrors },
    async (request, reply) => {
      const token = await registry.tokens.authenticate(presentedToken(request));
      const prefix = parsePrefix(request.query.prefix, registry.domain);
      authorize(token, 'delete', prefix);
      const plan = await registry.retention.plan(prefix);
      return reply.header('cache-control', 'no-store').send(removalsJson(prefix, plan));
    },
  );
}
