import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isImageName } from '../../aci/coordinates.ts';
import { discoveryTags } from '../../discovery/discovery-tags.ts';
import type { PageCache, RenderedPage } from '../../discovery/page-cache.ts';
import { buildPageModel, pageCount, pagePath } from '../../discovery/page-model.ts';
import { notFoundPage, peoplePage } from '../../discovery/people-page.ts';
import { renderDiscoveryPage } from '../../discovery/render-page.ts';
import type { Registry } from '../../registry/registry.ts';
import type { TokenRecord } from '../../registry/access/tokens.ts';
import { pageKey, requestedPage } from '../answer-key.ts';
import type { Remembers } from '../memory-answers.ts';
import { pageViewer } from '../viewer.ts';

/**
 * `GET /PATH?ac-discovery=1` at any depth, and the same page without the query: one
 * HTML document carries the discovery meta tags and the page for people. Pages are
 * cached until the catalogue or the keys change (page-cache.ts), so an answer costs
 * a lookup however many names are stored. A path with nothing stored or trusted
 * answers 404 (a friendly page, without tags) so clients walk up; `/` always
 * answers 200. `?page=N` picks a page of the names below; past the last page it
 * shows the last one, the page that exists, which is what is cached.
 */
export async function discoveryRoutes(
  app: FastifyInstance,
  opts: { registry: Registry; answers: Remembers; pages: PageCache; devCa?: string },
): Promise<void> {
  const { registry, pages } = opts;
  const { access } = registry;

  function render(name: string, isRoot: boolean, page: number, viewer: TokenRecord | undefined): RenderedPage {
    const tags = discoveryTags({
      name,
      catalog: registry.catalog,
      keys: registry.keys,
      origin: registry.origin,
      mirrored: !isRoot && registry.mirror.covers(name),
    });
    if (!tags && !isRoot) {
      return { status: 404, body: Buffer.from(renderDiscoveryPage('not found', [], notFoundPage(registry.domain, registry.origin, name))) };
    }
    const people = peoplePage(buildPageModel(registry, name, page, viewer, opts.devCa));
    return { status: 200, body: Buffer.from(renderDiscoveryPage(name, tags ?? [], people)) };
  }

  async function viewerOf(request: FastifyRequest): Promise<TokenRecord | undefined> {
    if (!access.any) return undefined;
    const viewer = await pageViewer(registry, request);
    return viewer?.scopes.includes('pull') ? viewer : undefined;
  }

  // The key each answer may be kept under in memory. Never set for the page of a name this replica did
  // not know (one with trusted keys only, or a prefix of stored names): its route looks in storage first,
  // which finds a name another replica or process stored, and an answer from memory would skip that look
  // until the next change reached this index.
  const keepAs = new WeakMap<FastifyRequest, string>();

  async function answer(request: FastifyRequest, reply: FastifyReply, name: string, isRoot: boolean) {
    // With the store away, answer from memory rather than fail discovery. A known name needs no look.
    const known = isRoot || registry.catalog.has(name);
    if (!known) {
      await registry.catalog
        .ensureName(name)
        .catch((err: unknown) => request.log.warn({ err, name }, 'failed to check storage for a name'));
    }
    const viewer = access.any ? await viewerOf(request) : undefined;
    const page = Math.min(requestedPage((request.query as Record<string, unknown>)?.page), pageCount(registry.catalog, name));
    // Only a pull token can change what a page shows.
    const p = pages.get(`${viewer?.id ?? ''}\n${name}\n${page}`, () => render(name, isRoot, page, viewer));
    if (known) keepAs.set(request, pageKey(pagePath(registry.domain, name), page));
    reply.header('content-type', 'text/html; charset=utf-8');
    reply.header('cache-control', viewer || access.isPrivate(name) ? 'private, no-cache' : 'no-cache');
    if (access.any) reply.header('vary', 'Authorization');
    return reply.status(p.status).send(p.body);
  }

  const remember = opts.answers.rememberAs((request) => keepAs.get(request));
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
