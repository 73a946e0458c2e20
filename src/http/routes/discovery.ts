import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isImageName } from '../../aci/coordinates.ts';
import { discoveryTags } from '../../discovery/discovery-tags.ts';
import { buildPageModel } from '../../discovery/page-model.ts';
import { notFoundPage, peoplePage } from '../../discovery/people-page.ts';
import { renderDiscoveryPage } from '../../discovery/render-page.ts';
import type { Registry } from '../../registry/registry.ts';
import type { TokenRecord } from '../../registry/tokens.ts';
import type { Remembers } from '../memory-answers.ts';
import { pageViewer } from '../viewer.ts';

interface Page {
  status: 200 | 404;
  /** Encoded once: a page holds non-Latin-1 text, which would otherwise be transcoded on every send. */
  body: Buffer;
}

const MAX_CACHED_PAGES = 10_000;

/** `?page=N` of the list for people; anything else is page 1 (the meta tags never depend on it). */
function pageNumber(query: unknown): number {
  const text = (query as Record<string, unknown>)?.page;
  return typeof text === 'string' && /^[1-9]\d{0,6}$/.test(text) ? Number(text) : 1;
}

/**
 * `GET /PATH?ac-discovery=1` at any depth, and the same page without the query: one
 * HTML document carries the discovery meta tags and the page for people. Pages are
 * cached until the catalogue or the keys change, so an answer costs a map lookup
 * however many names are stored. A path with nothing stored or trusted answers 404
 * (a friendly page, without tags) so clients walk up; `/` always answers 200.
 */
export async function discoveryRoutes(app: FastifyInstance, opts: { registry: Registry; answers: Remembers }): Promise<void> {
  const { registry } = opts;
  const { access } = registry;
  const cache = new Map<string, Page>();
  let catalogAt = -1;
  let keysAt = -1;

  function render(name: string, isRoot: boolean, page: number, viewer: TokenRecord | undefined): Page {
    const tags = discoveryTags({ name, catalog: registry.catalog, keys: registry.keys, origin: registry.origin });
    if (!tags && !isRoot) {
      return { status: 404, body: Buffer.from(renderDiscoveryPage('not found', [], notFoundPage(registry.domain, registry.origin, name))) };
    }
    const people = peoplePage(buildPageModel(registry, name, page, viewer));
    return { status: 200, body: Buffer.from(renderDiscoveryPage(name, tags ?? [], people)) };
  }

  /** Cached per name, page of names, and viewer (only a pull token can change what a page shows). */
  function cached(name: string, isRoot: boolean, page: number, viewer: TokenRecord | undefined): Page {
    const { generation } = registry.catalog;
    const keysGeneration = registry.keys.mirror.generation;
    if (generation !== catalogAt || keysGeneration !== keysAt || cache.size >= MAX_CACHED_PAGES) {
      cache.clear();
      catalogAt = generation;
      keysAt = keysGeneration;
    }
    const key = `${viewer?.id ?? ''}\n${name}\n${page}`;
    let hit = cache.get(key);
    if (!hit) cache.set(key, (hit = render(name, isRoot, page, viewer)));
    return hit;
  }

  async function viewerOf(request: FastifyRequest): Promise<TokenRecord | undefined> {
    if (!access.any) return undefined;
    const viewer = await pageViewer(registry, request);
    return viewer?.scopes.includes('pull') ? viewer : undefined;
  }

  // Requests for names this replica did not know: their page rests on a look in storage.
  const lookedUp = new WeakSet<FastifyRequest>();

  async function answer(request: FastifyRequest, reply: FastifyReply, name: string, isRoot: boolean) {
    // With the store away, answer from memory rather than fail discovery. A known name needs no look.
    if (!isRoot && !registry.catalog.has(name)) {
      lookedUp.add(request);
      await registry.catalog
        .ensureName(name)
        .catch((err: unknown) => request.log.warn({ err, name }, 'failed to check storage for a name'));
    }
    const viewer = access.any ? await viewerOf(request) : undefined;
    const p = cached(name, isRoot, pageNumber(request.query), viewer);
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('cache-control', viewer || access.isPrivate(name) ? 'private, no-cache' : 'no-cache');
    if (access.any) reply.header('vary', 'Authorization');
    return reply.status(p.status).send(p.body);
  }

  // Never kept: the page of a name this replica did not know (one with trusted keys only, or a prefix
  // of stored names). Its route looks in storage first, which finds a name another replica or process
  // stored; an answer from memory would skip that look until the next change reached this index.
  const remember: Remembers['remember'] = (request, reply, payload, done) =>
    lookedUp.has(request) ? done(null, payload) : opts.answers.remember(request, reply, payload, done);
  app.get('/', { onSend: remember, config: { publicPastLimit: true } }, async (request, reply) =>
    answer(request, reply, registry.domain, true),
  );

  app.get<{ Params: { '*': string } }>('/*', { onSend: remember, config: { publicPastLimit: true } }, async (request, reply) => {
    const path = request.params['*'].replace(/\/+$/, '');
    const name = `${registry.domain}/${path}`;
    if (!path) return answer(request, reply, registry.domain, true);
    if (!isImageName(name)) {
      const html = renderDiscoveryPage('not found', [], notFoundPage(registry.domain, registry.origin, undefined));
      return reply.status(404).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
    }
    return answer(request, reply, name, false);
  });
}
