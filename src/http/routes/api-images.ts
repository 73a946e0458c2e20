import type { FastifyInstance, FastifyReply } from 'fastify';
import { isImageName, parseCoordinates } from '../../aci/coordinates.ts';
import { notFound } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import type { TokenRecord } from '../../registry/tokens.ts';
import { pageUrl, versionJson } from '../api/image-json.ts';
import { encodeCursor, parseListQuery } from '../api/list-query.ts';
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

  app.get<{ Querystring: Record<string, string | string[]> }>('/-/api/images', async (request, reply) => {
    const query = parseListQuery(request.query, domain);
    const viewer = await optionalToken(registry, request);
    const names = catalog.namesCovered(query.prefix, query.after, query.limit + 1);
    const page = names.slice(0, query.limit);
    const nextCursor = names.length > query.limit ? encodeCursor(page[page.length - 1]!) : null;
    return listing(reply).send({ images: page.map((n) => summary(n, viewer)), nextCursor });
  });

  app.get<{ Params: { '*': string } }>('/-/api/images/*', async (request, reply) => {
    const name = request.params['*'].replace(/\/+$/, '');
    listing(reply);
    access.authorizeRead(await optionalToken(registry, request), name);
    if (!isImageName(name) || !catalog.has(name)) throw noSuchName(name);
    const latest = new Set(catalog.latestPerPlatform(name));
    const versions = catalog.versionsOf(name).map((r) => ({ ...versionJson(origin, r), latest: latest.has(r) }));
    return reply.send({ name, private: access.isPrivate(name), pageUrl: pageUrl(origin, domain, name), versions });
  });

  app.delete<{ Params: { '*': string } }>('/-/api/images/*', async (request, reply) => {
    const token = await registry.tokens.authenticate(presentedToken(request));
    const c = parseCoordinates(request.params['*'], 'no image at this address; delete URLs look like /-/api/images/NAME/VERSION/OS/ARCH');
    const { record, latest } = await registry.deleter.delete(token, c);
    request.log.info({ name: c.name, version: c.version, os: c.os, arch: c.arch }, 'version deleted');
    return reply.header('cache-control', 'no-store').send({
      deleted: versionJson(origin, record),
      latest: latest ? versionJson(origin, latest) : null,
    });
  });
}
