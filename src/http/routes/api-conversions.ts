import type { FastifyInstance, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { invalid } from '../../errors.ts';
import { prefixCovers } from '../../names.ts';
import type { TokenRecord } from '../../registry/access/tokens.ts';
import type { ConversionRecord } from '../../registry/mirror/conversions.ts';
import type { Registry } from '../../registry/registry.ts';
import { errorResponses, security } from '../api/schemas.ts';
import { presentedToken } from '../credentials.ts';

interface ConversionBody {
  source: string;
  as?: string;
}

/**
 * Conversions of upstream OCI/Docker images into signed versions, for a token with the
 * `convert` scope (docs/mirrors.md). A POST waits for its conversion and answers its result,
 * so a CI job needs one call; with `Prefer: respond-async` it answers 202 at once, and the
 * conversion's URL shows its progress.
 */
export async function apiConversionRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  const tokens = new WeakMap<FastifyRequest, TokenRecord>();

  // Before the body is read: a stranger's request is a 401 whatever it sends. Encapsulated in this plugin.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    tokens.set(request, await registry.tokens.authenticate(presentedToken(request)));
  });

  app.post<{ Body: ConversionBody }>(
    '/-/api/conversions',
    { schema: createSchema, bodyLimit: 16 * 1024, schemaErrorFormatter: requestErrors },
    async (request, reply) => {
      const started = await registry.conversions.request(tokens.get(request)!, request.body);
      const url = `/-/api/conversions/${started.record.id}`;
      reply.header('location', url);
      if (/\brespond-async\b/i.test(String(request.headers.prefer ?? ''))) {
        void started.done.catch(() => {}); // its record tells how it ended
        return reply.status(202).send({ conversion: started.record });
      }
      const done = await started.done;
      const created = done.images.some((i) => i.outcome === 'created');
      return reply.status(created ? 201 : 200).send({ conversion: done });
    },
  );

  app.get<{ Params: { id: string } }>('/-/api/conversions/:id', { schema: getSchema }, async (request, reply) => {
    const record = await registry.conversions.get(request.params.id);
    // Another prefix's conversion is as unknown, so ids cannot be probed.
    if (!mayWatch(tokens.get(request)!, record)) await registry.conversions.get('unknown');
    return reply.send({ conversion: record });
  });
}

const mayWatch = (token: TokenRecord, record: ConversionRecord): boolean =>
  (token.scopes.includes('convert') || token.scopes.includes('admin')) && token.prefixes.some((p) => prefixCovers(p, record.name));

function requestErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  const what = `${dataVar}${first?.instancePath.replace(/\//g, '.') ?? ''} ${first?.message ?? 'is not valid'}`;
  return invalid('CONVERSION_REQUEST_INVALID', `${what}; send {"source": "REGISTRY/REPOSITORY:TAG"} and optionally "as": "HOST/PATH/NAME"`);
}

const conversionSchema = {
  type: 'object',
  description: 'A conversion: what it converts, how far it is, and what it published',
  required: ['id', 'source', 'name', 'status', 'by', 'startedAt', 'finishedAt', 'progress', 'digest', 'images', 'skipped', 'error'],
  properties: {
    id: { type: 'string', description: '20 hexadecimal digits' },
    source: { type: 'string', examples: ['docker.example.com/library/alpine:3.20'] },
    name: { type: 'string', examples: ['aci.example.com/mirror/library/alpine'] },
    status: { type: 'string', enum: ['running', 'done', 'failed'] },
    by: { type: 'string', description: 'the id of the token that asked, or cli:USER' },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
    progress: {
      type: 'object',
      required: ['platformsDone', 'platformsTotal'],
      properties: { platformsDone: { type: 'integer' }, platformsTotal: { type: 'integer' } },
    },
    digest: { type: ['string', 'null'], description: 'what the source named upstream: an index or a manifest' },
    images: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'version', 'os', 'arch', 'imageId', 'manifestDigest', 'outcome'],
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          os: { type: 'string' },
          arch: { type: 'string' },
          imageId: { type: 'string' },
          manifestDigest: { type: 'string' },
          outcome: { type: 'string', enum: ['created', 'unchanged'] },
        },
      },
    },
    skipped: {
      type: 'array',
      description: 'platforms of an index that appc cannot name, and why',
      items: { type: 'object', required: ['platform', 'reason'], properties: { platform: { type: 'string' }, reason: { type: 'string' } } },
    },
    error: {
      type: ['object', 'null'],
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const answer = (description: string) => ({
  description,
  type: 'object',
  required: ['conversion'],
  properties: { conversion: conversionSchema },
});

const createSchema = {
  operationId: 'createConversion',
  summary: 'Convert an upstream OCI/Docker image into signed versions',
  description:
    'Needs a token with the convert scope for the target name. The source must be in the allow-list (mirrors.upstreams); ' +
    'each platform the image has and appc can name becomes a version (the tag; a digest-pinned version for latest or a digest), ' +
    'signed with the server signing key of the prefix. Waits for the conversion unless the request says Prefer: respond-async.',
  security: security.token,
  body: {
    type: 'object',
    required: ['source'],
    additionalProperties: false,
    properties: {
      source: {
        type: 'string',
        maxLength: 1024,
        examples: ['docker.example.com/library/alpine:3.20'],
        description: 'REGISTRY/REPOSITORY:TAG or @sha256:DIGEST, docker:// optional',
      },
      as: {
        type: 'string',
        maxLength: 512,
        examples: ['aci.example.com/team/alpine'],
        description: 'the name; default: the allow-list mapping',
      },
    },
  },
  response: {
    200: answer('Done; every version was already published with these bytes'),
    201: answer('Done; at least one version was published'),
    202: answer('Started (Prefer: respond-async); Location is its URL'),
    ...errorResponses(400, 401, 403, 404, 413, 422, 429, 502, 504),
  },
};

const getSchema = {
  operationId: 'getConversion',
  summary: 'A conversion, with its progress or result',
  description: 'Needs a token with the convert or admin scope for a prefix covering its name.',
  security: security.token,
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', maxLength: 100, description: 'the conversion id' } },
  },
  response: {
    200: answer('The conversion'),
    ...errorResponses(401, 403, 404, 429),
  },
};
