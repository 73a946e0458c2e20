import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import { openApiDocument } from '../api/openapi.ts';

/** The API's own description, and JSON 404s for unknown /-/api/ paths (not the HTML page for people). */
export async function apiMetaRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const document = JSON.stringify(openApiDocument(opts.registry.origin));
  app.get('/-/api/openapi.json', async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document),
  );
  app.all('/-/api/*', async (request) => {
    throw notFound('API_NOT_FOUND', `no API route ${request.method} ${request.url.split('?')[0]}; /-/api/openapi.json lists them`);
  });
}
