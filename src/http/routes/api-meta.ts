import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.ts';
import { errorResponses, security } from '../api/schemas.ts';

const describeSchema = {
  operationId: 'getOpenApi',
  summary: 'This description of the API (OpenAPI 3.1)',
  security: security.public,
  response: {
    200: {
      description: 'The OpenAPI 3.1 document',
      type: 'object',
      required: ['openapi', 'info', 'paths'],
      properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } },
      additionalProperties: true,
    },
    ...errorResponses(429),
  },
};

/** The API's own description, and JSON 404s for unknown /-/api/ paths (not the HTML page for people). */
export async function apiMetaRoutes(app: FastifyInstance): Promise<void> {
  let document = '';
  // Made once every route is registered: the description is generated from their schemas.
  app.addHook('onReady', async () => {
    document = JSON.stringify(app.swagger());
  });
  app.get('/-/api/openapi.json', { schema: describeSchema }, async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(document),
  );
  app.all('/-/api/*', async (request) => {
    // A HEAD is answered as its GET, Content-Length included.
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    throw notFound('API_NOT_FOUND', `no API route ${method} ${request.url.split('?')[0]}; /-/api/openapi.json lists them`);
  });
}
