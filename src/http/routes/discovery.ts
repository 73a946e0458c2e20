import type { FastifyInstance, FastifyReply } from 'fastify';
import { isAcIdentifier } from '../../aci/name.ts';
import { discoveryTags } from '../../discovery/discovery-tags.ts';
import { renderDiscoveryPage } from '../../discovery/render-page.ts';
import type { Registry } from '../../registry/registry.ts';

interface Page {
  status: 200 | 404;
  html: string;
}

const MAX_CACHED_PAGES = 10_000;

/**
 * `GET /PATH?ac-discovery=1` at any depth. Pages are cached until the catalogue or
 * the keys change, so a discovery answer costs a map lookup however many names
 * are stored. A path with nothing stored or trusted answers 404 so clients walk up;
 * `/` always answers 200.
 */
export async function discoveryRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  const cache = new Map<string, Page>();
  let cachedAt = '';

  function page(name: string, isRoot: boolean): Page {
    const stamp = `${registry.catalog.generation}:${registry.keys.mirror.generation}`;
    if (stamp !== cachedAt || cache.size >= MAX_CACHED_PAGES) {
      cache.clear();
      cachedAt = stamp;
    }
    let hit = cache.get(name);
    if (!hit) {
      const tags = discoveryTags({ name, catalog: registry.catalog, keys: registry.keys, origin: registry.origin });
      hit = { status: tags || isRoot ? 200 : 404, html: renderDiscoveryPage(name, tags ?? []) };
      cache.set(name, hit);
    }
    return hit;
  }

  const send = (reply: FastifyReply, p: Page) =>
    reply.status(p.status).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(p.html);

  app.get('/', async (_request, reply) => send(reply, page(registry.domain, true)));

  app.get<{ Params: { '*': string } }>('/*', async (request, reply) => {
    const path = request.params['*'].replace(/\/+$/, '');
    const name = `${registry.domain}/${path}`;
    if (!path) return send(reply, page(registry.domain, true));
    if (!isAcIdentifier(name)) return send(reply, { status: 404, html: renderDiscoveryPage('not found', []) });
    return send(reply, page(name, false));
  });
}
