import type { FastifyInstance, FastifyReply } from 'fastify';
import { isImageName } from '../../aci/coordinates.ts';
import { parseCoordinates } from '../url-coordinates.ts';
import { notFound } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import type { TokenRecord } from '../../registry/access/tokens.ts';
import { pageUrl, versionJson } from '../api/image-json.ts';
import { quotasJson } from '../api/quota-json.ts';
import {
  encodeCursor,
  listQueryErrors,
  listQuerySchema,
  parseListQuery,
  refuseRepeatedListKeys,
  type CheckedListQuery,
} from '../api/list-query.ts';
import { errorResponses, ref, security } from '../api/schemas.ts';
import { presentedToken } from '../credentials.ts';
import { optionalToken, privateResponse } from '../viewer.ts';

const noSuchName = (name: string) => notFound('IMAGE_NOT_FOUND', `no image named ${name.slice(0, 300)}; GET /-/api/images lists the names`);

/**
 * The JSON API over images: list (cursor-paginated), one name's versions, and
 * delete. Versions and sizes of a private name are shown only to a token with
 * the pull scope for it; its name alone is public, like the discovery tags.
 */
export async function apiImageRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  const { catalog, access, origin, domain } = registry;

  // Listings differ by credentials: never shared between viewers by a cache.
  const listing = (reply: FastifyReply) => privateResponse(reply, true);

  function summary(name: string, viewer: TokenRecord | undefined) {
    const visible = access.mayRead(viewer, name);
    return {
      name,
      private: access.isPrivate(name),
      pageUrl: pageUrl(origin, domain, name),
      apiUrl: `${origin}/-/api/images/${name}`,
      latest: visible ? catalog.latestPerPlatform(name).map((r) => versionJson(origin, r)) : null,
    };
  }

  app.get<{ Querystring: CheckedListQuery }>(
    '/-/api/images',
    { schema: listSchema, preValidation: refuseRepeatedListKeys, schemaErrorFormatter: listQueryErrors },
    async (request, reply) => {
      const query = parseListQuery(request.query, domain);
      const viewer = await optionalToken(registry, request);
      const names = catalog.namesCovered(query.prefix, query.after, query.limit + 1);
      const page = names.slice(0, query.limit);
      const nextCursor = names.length > query.limit ? encodeCursor(page[page.length - 1]!) : null;
      const quotas = quotasJson(registry, viewer, registry.quotas.covering(query.prefix));
      return listing(reply).send({ images: page.map((n) => summary(n, viewer)), nextCursor, quotas });
    },
  );

  app.get<{ Params: { '*': string } }>(
    '/-/api/images/*',
    { schema: nameSchema, config: { documentedAs: nameDoc } },
    async (request, reply) => {
      const name = request.params['*'].replace(/\/+$/, '');
      listing(reply);
      const viewer = await optionalToken(registry, request);
      access.authorizeRead(viewer, name);
      if (!isImageName(name) || !catalog.has(name)) throw noSuchName(name);
      const latest = new Set(catalog.latestPerPlatform(name));
      const versions = catalog.versionsOf(name).map((r) => ({ ...versionJson(origin, r), latest: latest.has(r) }));
      const quotas = quotasJson(registry, viewer, registry.quotas.covering(name));
      return reply.send({ name, private: access.isPrivate(name), pageUrl: pageUrl(origin, domain, name), versions, quotas });
    },
  );

  app.delete<{ Params: { '*': string } }>(
    '/-/api/images/*',
    { schema: deleteSchema, config: { documentedAs: deleteDoc } },
    async (request, reply) => {
      const token = await registry.tokens.authenticate(presentedToken(request));
      const c = parseCoordinates(request.params['*'], 'no image at this address; delete URLs look like /-/api/images/NAME/VERSION/OS/ARCH');
      const { record, latest } = await registry.deleter.delete(token, c);
      request.log.info({ name: c.name, version: c.version, os: c.os, arch: c.arch }, 'version deleted');
      return reply.header('cache-control', 'no-store').send({
        deleted: versionJson(origin, record),
        latest: latest ? versionJson(origin, latest) : null,
      });
    },
  );
}

// Image names span path segments, so these routes match a wildcard; the description names its parts.
const wildcard = { type: 'object', properties: { '*': { type: 'string' } } } as const;
const pathParam = (description: string, examples: string[]) => ({ type: 'string', description, examples });

const listSchema = {
  operationId: 'listImages',
  summary: 'Names with the latest version of each os/arch, paginated by cursor',
  description: 'Versions of a private name are shown only to a token with the pull scope for it (`latest` is null otherwise).',
  security: security.optionalToken,
  querystring: listQuerySchema,
  response: {
    200: {
      description: 'One page of names; nextCursor is null on the last page; quotas are those that hold for the prefix',
      type: 'object',
      required: ['images', 'nextCursor', 'quotas'],
      properties: {
        images: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'private', 'pageUrl', 'apiUrl', 'latest'],
            properties: {
              name: { type: 'string' },
              private: { type: 'boolean' },
              pageUrl: { type: 'string', format: 'uri' },
              apiUrl: { type: 'string', format: 'uri' },
              latest: { type: ['array', 'null'], items: ref('Version') },
            },
          },
        },
        nextCursor: { type: ['string', 'null'] },
        quotas: { type: 'array', items: ref('Quota') },
      },
    },
    ...errorResponses(401, 422, 429),
  },
};

const nameSchema = {
  operationId: 'getImage',
  summary: 'Every version/os/arch of one name, highest first',
  description: "A private name's versions need a token with the pull scope for it.",
  security: security.optionalToken,
  params: wildcard,
  response: {
    200: {
      description: 'The versions of the name, and the quotas that hold for it',
      type: 'object',
      required: ['name', 'private', 'pageUrl', 'versions', 'quotas'],
      properties: {
        name: { type: 'string' },
        private: { type: 'boolean' },
        pageUrl: { type: 'string', format: 'uri' },
        versions: { type: 'array', items: ref('ListedVersion') },
        quotas: { type: 'array', items: ref('Quota') },
      },
    },
    ...errorResponses(401, 403, 404, 429),
  },
};

const nameDoc = {
  url: '/-/api/images/{name}',
  params: { name: pathParam('the image name, slashes unescaped', ['aci.example.com/team/app']) },
};

const deleteSchema = {
  operationId: 'deleteVersion',
  summary: 'Delete one version: its .aci, .aci.asc and metadata disappear together',
  description:
    'Needs a token with the delete scope for a prefix covering the name; `latest` moves to the next version. ' +
    'Re-pushing the version afterwards needs the overwrite scope.',
  security: security.token,
  params: wildcard,
  response: {
    200: {
      description: 'Deleted; latest is what `latest` now resolves to for that os/arch (null when none is left)',
      type: 'object',
      required: ['deleted', 'latest'],
      properties: { deleted: ref('Version'), latest: { oneOf: [ref('Version'), { type: 'null' }] } },
    },
    ...errorResponses(401, 403, 404, 422, 429),
  },
};

const deleteDoc = {
  url: '/-/api/images/{name}/{version}/{os}/{arch}',
  params: {
    name: pathParam('the image name, slashes unescaped', ['aci.example.com/team/app']),
    version: pathParam('an exact version (not latest)', ['1.0.0']),
    os: pathParam('the operating system', ['linux']),
    arch: pathParam('the architecture', ['amd64']),
  },
};
