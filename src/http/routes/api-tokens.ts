import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../../registry/registry.ts';
import { TokenManager } from '../../registry/access/token-admin.ts';
import { errorResponses, ref, security } from '../api/schemas.ts';
import { parseTokenRequest, tokenProperties, tokenRequestSchema } from '../api/token-json.ts';
import { presentedToken } from '../credentials.ts';

// A token request is a few hundred bytes; nothing larger is read.
const BODY_LIMIT = 16 * 1024;

/**
 * Tokens managed over the API by a token with the `admin` scope, within its own
 * prefixes (src/registry/access/token-admin.ts has the rules). The caller is
 * authenticated before the body is read, so a stranger's request is a 401 whatever
 * it sends. Every answer is `no-store`: one of them holds a secret.
 */
export async function apiTokenRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  const managers = new WeakMap<FastifyRequest, TokenManager>();
  const managerOf = (request: FastifyRequest) => managers.get(request)!;

  // Encapsulated in this plugin: only the token routes authenticate here.
  app.addHook('onRequest', async (request) => {
    managers.set(request, TokenManager.admin(await registry.tokens.authenticate(presentedToken(request))));
  });

  app.post(
    '/-/api/tokens',
    // The body is read by parseTokenRequest, strictly and with codes of ours; the schema documents it.
    { schema: createSchema, bodyLimit: BODY_LIMIT, validatorCompiler: () => () => true },
    async (request, reply) => {
      const { token, view } = await registry.tokenAdmin.create(managerOf(request), parseTokenRequest(request.body));
      request.log.info({ tokenId: view.id, prefixes: view.prefixes, scopes: view.scopes }, 'token created');
      const { id, ...rest } = view;
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ id, token, ...rest });
    },
  );

  app.get('/-/api/tokens', { schema: listSchema }, async (request, reply) => {
    const tokens = await registry.tokenAdmin.list(managerOf(request));
    return reply.header('cache-control', 'no-store').send({ tokens });
  });

  app.delete<{ Params: { id: string } }>('/-/api/tokens/:id', { schema: revokeSchema }, async (request, reply) => {
    const revoked = await registry.tokenAdmin.revoke(managerOf(request), request.params.id);
    request.log.info({ tokenId: request.params.id }, 'token revoked');
    return reply.header('cache-control', 'no-store').send({ revoked });
  });
}

const ADMIN_RULE =
  'Needs a token with the admin scope. It acts only at or below its own prefixes (segment-aligned): ' +
  'it sees, makes and revokes only tokens all of whose prefixes are at or below one of its own.';

// The id, then the secret, then the rest: as the answer is sent.
const { id: _id, ...afterId } = tokenProperties;

const createSchema = {
  operationId: 'createToken',
  summary: 'Make a token at or below the admin token’s prefixes; its secret is in this answer only',
  description:
    `${ADMIN_RULE} It grants any scopes, admin included; metrics, which no prefix bounds, only when it holds the whole ` +
    'image domain. The new token expires no later than the admin token.',
  security: security.token,
  body: tokenRequestSchema,
  response: {
    201: {
      description: 'Made; `token` is the secret, shown this once',
      type: 'object',
      required: ['id', 'token', ...Object.keys(afterId)],
      properties: {
        id: tokenProperties.id,
        token: { type: 'string', pattern: '^acih_[0-9a-f]{20}_[A-Za-z0-9_-]{43}$', description: 'the bearer token; keep it secret' },
        ...afterId,
      },
    },
    ...errorResponses(400, 401, 403, 413, 422, 429),
  },
};

const listSchema = {
  operationId: 'listTokens',
  summary: 'The tokens the admin token may see, oldest first, without secrets',
  description: ADMIN_RULE,
  security: security.token,
  response: {
    200: {
      description: 'Every token all of whose prefixes are at or below one of the caller’s',
      type: 'object',
      required: ['tokens'],
      properties: { tokens: { type: 'array', items: ref('Token') } },
    },
    ...errorResponses(401, 403, 429),
  },
};

const revokeSchema = {
  operationId: 'revokeToken',
  summary: 'Revoke a token; servers refuse it within 2 seconds',
  description: `${ADMIN_RULE} A token it may not see is answered 404, like one that does not exist.`,
  security: security.token,
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', description: 'the token id', examples: ['78fd8483707cae3c0521'] } },
  },
  response: {
    200: {
      description: 'Revoked; the token as it was',
      type: 'object',
      required: ['revoked'],
      properties: { revoked: ref('Token') },
    },
    ...errorResponses(401, 403, 404, 429),
  },
};
