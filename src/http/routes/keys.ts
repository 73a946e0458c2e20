import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import { sendObject } from '../send-object.ts';

/**
 * One armored public key per URL: rkt trusts only the first key of a file, so each
 * trusted key gets its own stable address. Public, no auth: rkt never sends
 * credentials for keys.
 */
export async function keyRoutes(app: FastifyInstance, opts: { registry: Registry }): Promise<void> {
  const { registry } = opts;
  app.route<{ Params: { fingerprint: string } }>({
    method: ['GET', 'HEAD'],
    url: '/-/keys/:fingerprint',
    handler: async (request, reply) => {
      const fp = /^([0-9a-f]{40})\.asc$/.exec(request.params.fingerprint)?.[1];
      const record = fp ? await registry.keys.fetch(fp) : undefined;
      if (!record) throw notFound('KEY_NOT_FOUND', 'no trusted key at this address; the discovery page links the current keys');
      const body = Buffer.from(record.armored);
      return sendObject(request, reply, {
        size: body.length,
        etag: `"${createHash('sha256').update(body).digest('hex')}"`,
        lastModified: new Date(record.addedAt),
        contentType: 'application/pgp-keys',
        cacheControl: 'public, max-age=300',
        open: async (range) => (range ? body.subarray(range.start, range.end + 1) : body),
      });
    },
  });
}
