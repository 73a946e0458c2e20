import type { FastifyInstance } from 'fastify';
import { notFound } from '../../errors.ts';
import type { KeyRecord } from '../../registry/trust/keyring.ts';
import type { Registry } from '../../registry/registry.ts';
import type { Remembers } from '../memory-answers.ts';
import { bufferOpener, memoizeServed, sendObject } from '../send-object.ts';

/**
 * One armored public key per URL: rkt trusts only the first key of a file, so each
 * trusted key gets its own stable address. Public, no auth: rkt never sends
 * credentials for keys.
 */
// Served from memory, the ETag and date computed once per key record.
const servedKey = memoizeServed((record: KeyRecord) => ({ body: Buffer.from(record.armored), lastModified: new Date(record.addedAt) }));

export async function keyRoutes(app: FastifyInstance, opts: { registry: Registry; answers: Remembers }): Promise<void> {
  const { registry } = opts;
  app.route<{ Params: { fingerprint: string } }>({
    method: ['GET', 'HEAD'],
    url: '/-/keys/:fingerprint',
    onSend: opts.answers.remember,
    handler: async (request, reply) => {
      const fp = /^([0-9a-f]{40})\.asc$/.exec(request.params.fingerprint)?.[1];
      const record = fp ? await registry.keys.fetch(fp) : undefined;
      if (!record) throw notFound('KEY_NOT_FOUND', 'no trusted key at this address; the discovery page links the current keys');
      const key = servedKey(record);
      return sendObject(request, reply, {
        size: key.body.length,
        etag: key.etag,
        lastModified: key.lastModified,
        contentType: 'application/pgp-keys',
        cacheControl: 'public, max-age=300',
        open: bufferOpener(key.body),
      });
    },
  });
}
