import type { FastifyInstance, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { WEBHOOK_EVENTS, type WebhookEvent } from '../../config/webhooks-schema.ts';
import { invalid } from '../../errors.ts';
import { TokenManager } from '../../registry/access/token-admin.ts';
import { authorize } from '../../registry/access/tokens.ts';
import type { Registry } from '../../registry/registry.ts';
import type { Subscription } from '../../registry/webhooks/webhooks.ts';
import { errorResponses, ref, security } from '../api/schemas.ts';
import { presentedToken } from '../credentials.ts';

interface NewWebhookBody {
  prefix: string;
  url: string;
  events?: WebhookEvent[];
  secret?: string;
  allowHttp?: boolean;
  allowPrivateTarget?: boolean;
}

const DELIVERIES_LIMIT = 100;

/**
 * Webhook subscriptions over the API, for a token with the admin scope, each within the
 * token's prefixes. What is delivered, when and how is docs/operations.md#webhooks.
 */
export async function apiWebhookRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  const { webhooks } = registry;
  const managers = new WeakMap<FastifyRequest, TokenManager>();
  const managerOf = (request: FastifyRequest) => managers.get(request)!;

  // Before the body is read: a stranger's request is a 401 whatever it sends. Encapsulated in
  // this plugin, so only these routes authenticate here; a secret is answered here, so nothing keeps a copy.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    managers.set(request, TokenManager.admin(await registry.tokens.authenticate(presentedToken(request))));
  });

  /** The subscription, when it is at or below the token's prefixes; any other is as unknown, so ids cannot be probed. */
  const owned = (manager: TokenManager, id: string): Promise<Subscription> => webhooks.get(id, (prefix) => manager.covers(prefix));

  app.get('/-/api/webhooks', { schema: listSchema }, async (request, reply) => {
    const manager = managerOf(request);
    const visible = (await webhooks.list()).filter((s) => manager.covers(s.prefix));
    return reply.send({ webhooks: visible });
  });

  app.post<{ Body: NewWebhookBody }>(
    '/-/api/webhooks',
    { schema: createSchema, bodyLimit: 16 * 1024, preValidation: refuseUnknownFields, schemaErrorFormatter: requestErrors },
    async (request, reply) => {
      const manager = managerOf(request);
      const body = request.body;
      authorize(manager.bound!, 'admin', body.prefix);
      const made = await webhooks.add(
        {
          prefix: body.prefix,
          url: body.url,
          events: body.events ?? [],
          secret: body.secret,
          allowHttp: body.allowHttp ?? false,
          allowPrivateTarget: body.allowPrivateTarget ?? false,
        },
        manager.actor,
        'api',
      );
      request.log.info({ subscription: made.subscription.id, prefix: body.prefix }, 'webhook subscription added');
      return reply.status(201).send({ webhook: made.subscription, secret: made.secret });
    },
  );

  app.delete<{ Params: { id: string } }>('/-/api/webhooks/:id', { schema: deleteSchema }, async (request, reply) => {
    const manager = managerOf(request);
    const { id } = await owned(manager, request.params.id);
    const removed = await webhooks.remove(id, manager.actor);
    request.log.info({ subscription: id }, 'webhook subscription removed');
    return reply.send({ removed });
  });

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>(
    '/-/api/webhooks/:id/deliveries',
    { schema: deliveriesSchema, schemaErrorFormatter: requestErrors },
    async (request, reply) => {
      const manager = managerOf(request);
      const { id } = await owned(manager, request.params.id);
      return reply.send({ deliveries: await webhooks.deliveries(id, request.query.limit) });
    },
  );
}

/**
 * A field the API does not know is refused rather than dropped, as validation would: a
 * misspelt `events` would otherwise subscribe to everything. A callback: no promise per request.
 */
function refuseUnknownFields(request: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void {
  const body = request.body;
  const known = Object.keys(createSchema.body.properties);
  const unknown = body && typeof body === 'object' ? Object.keys(body).find((k) => !known.includes(k)) : undefined;
  if (unknown === undefined) return done();
  done(invalid('WEBHOOK_REQUEST_INVALID', `unknown field ${JSON.stringify(unknown.slice(0, 100))}; the fields are ${known.join(', ')}`));
}

/** The schema's refusals in the API's codes, naming what failed. */
function requestErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  const where = `${dataVar}${first?.instancePath.replace(/\//g, '.') ?? ''}`;
  const what = `${where} ${first?.message ?? 'is not valid'}`;
  if (dataVar === 'querystring') return invalid('QUERY_INVALID', `${what}; limit is a whole number from 1 to ${DELIVERIES_LIMIT}`);
  return invalid('WEBHOOK_REQUEST_INVALID', `${what}; send {"prefix", "url"} and optionally "events", "secret", "allowHttp"`);
}

const webhookSchema = {
  type: 'object',
  description: 'A subscription; its secret is shown only when it is made',
  required: ['id', 'source', 'prefix', 'url', 'events', 'allowHttp', 'allowPrivateTarget', 'createdAt'],
  properties: {
    id: { type: 'string', description: '20 hexadecimal digits, or config-NAME for one of the configuration file' },
    source: { type: 'string', enum: ['config', 'stored'], description: 'config: from the configuration file, changed only there' },
    prefix: { type: 'string', examples: ['aci.example.com/team'] },
    url: { type: 'string', format: 'uri' },
    events: { type: 'array', items: { type: 'string', enum: WEBHOOK_EVENTS } },
    allowHttp: { type: 'boolean' },
    allowPrivateTarget: { type: 'boolean' },
    createdAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 100, description: 'the subscription id', examples: ['78fd8483707cae3c0521'] } },
} as const;

const inConfig = { 409: { description: 'The subscription is in the configuration file (WEBHOOK_IN_CONFIG)', ...ref('Error') } };

const listSchema = {
  operationId: 'listWebhooks',
  summary: "Webhook subscriptions under the token's prefixes",
  description: 'Needs a token with the admin scope. Secrets are never shown.',
  security: security.token,
  response: {
    200: {
      description: 'The subscriptions: those of the configuration first, then the others oldest first',
      type: 'object',
      required: ['webhooks'],
      properties: { webhooks: { type: 'array', items: webhookSchema } },
    },
    ...errorResponses(401, 403, 429),
  },
};

const createSchema = {
  operationId: 'createWebhook',
  summary: 'Subscribe an HTTPS endpoint to the events under a prefix',
  description:
    'Needs a token with the admin scope for a prefix covering it. The secret the deliveries are signed with is answered once, ' +
    'when the server made it (no `secret` sent); private targets are allowed only by the operator, on the command line.',
  security: security.token,
  body: {
    type: 'object',
    required: ['prefix', 'url'],
    additionalProperties: false,
    properties: {
      prefix: { type: 'string', maxLength: 512, description: 'the image domain or a prefix under it', examples: ['aci.example.com/team'] },
      url: {
        type: 'string',
        maxLength: 2048,
        description: 'https:// (http:// with allowHttp)',
        examples: ['https://ci.example.com/hooks/acihost'],
      },
      events: { type: 'array', minItems: 1, items: { type: 'string', enum: WEBHOOK_EVENTS }, description: 'default: every kind' },
      secret: { type: 'string', maxLength: 256, description: '16-256 printable ASCII characters; default: one made and answered once' },
      allowHttp: { type: 'boolean', default: false, description: 'allow a plain http:// URL' },
      allowPrivateTarget: { type: 'boolean', default: false, description: 'true is refused (403 WEBHOOK_PRIVATE_TARGET_API)' },
    },
  },
  response: {
    201: {
      description: 'Made; secret is null when the request sent one',
      type: 'object',
      required: ['webhook', 'secret'],
      properties: { webhook: webhookSchema, secret: { type: ['string', 'null'] } },
    },
    ...errorResponses(400, 401, 403, 413, 422, 429),
  },
};

const deleteSchema = {
  operationId: 'deleteWebhook',
  summary: 'Remove a webhook subscription; its open deliveries stop',
  description: 'Needs a token with the admin scope for a prefix covering the subscription.',
  security: security.token,
  params: idParams,
  response: {
    200: { description: 'Removed', type: 'object', required: ['removed'], properties: { removed: webhookSchema } },
    ...errorResponses(401, 403, 404, 429),
    ...inConfig,
  },
};

const attemptSchema = {
  type: 'object',
  required: ['attempt', 'at', 'by', 'outcome', 'status', 'error', 'durationMs'],
  properties: {
    attempt: { type: 'integer', minimum: 1 },
    at: { type: 'string', format: 'date-time', description: 'when it ended' },
    by: { type: 'string', description: 'the replica (host/pid) that made it, or took it over' },
    outcome: { type: 'string', enum: ['delivered', 'http_error', 'timeout', 'connection_failed', 'target_refused', 'lost'] },
    status: { type: ['integer', 'null'], description: 'what the endpoint answered' },
    error: { type: ['string', 'null'] },
    durationMs: { type: ['number', 'null'] },
  },
} as const;

const deliveriesSchema = {
  operationId: 'listWebhookDeliveries',
  summary: "A subscription's newest deliveries and their last attempts",
  description: 'Needs a token with the admin scope for a prefix covering the subscription.',
  security: security.token,
  params: idParams,
  querystring: {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: DELIVERIES_LIMIT, default: 20, description: 'deliveries, newest first' } },
  },
  response: {
    200: {
      description: 'The newest deliveries first',
      type: 'object',
      required: ['deliveries'],
      properties: {
        deliveries: {
          type: 'array',
          items: {
            type: 'object',
            required: ['eventId', 'kind', 'eventTime', 'state', 'attempts', 'nextAttemptAt', 'lastAttempts'],
            properties: {
              eventId: { type: 'string', description: 'the X-Acihost-Delivery header, and the id field of the body' },
              kind: { type: ['string', 'null'], enum: [...WEBHOOK_EVENTS, null] },
              eventTime: { type: 'string', format: 'date-time' },
              state: { type: 'string', enum: ['pending', 'delivered', 'failed'], description: 'failed: given up' },
              attempts: { type: 'integer', minimum: 0 },
              nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
              lastAttempts: { type: 'array', items: attemptSchema, description: 'up to the last five, oldest first' },
            },
          },
        },
      },
    },
    ...errorResponses(401, 403, 404, 422, 429),
  },
};
