import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { isImageName } from '../../aci/coordinates.ts';
import { notFound } from '../../errors.ts';
import { keysFile } from '../../registry/trust/keys-file.ts';
import type { Registry } from '../../registry/registry.ts';
import type { Remembers } from '../memory-answers.ts';
import { sendObject } from '../send-object.ts';

const FILE = 'pubkeys.gpg';
const CONSTRAINT = 'acihostKeysFile';

const pathOf = (url: string | undefined) => (url ?? '').split('?', 1)[0]!;

/**
 * Routes a path whose last segment is pubkeys.gpg here rather than to the discovery
 * catch-all, which owns `/*` as well: a route constraint derived from the path picks
 * this handler, and every other path still falls through to discovery.
 */
const keysFilePaths = {
  name: CONSTRAINT,
  storage() {
    const handlers = new Map<string, unknown>();
    return { get: (v: string) => handlers.get(v) ?? null, set: (v: string, h: unknown) => void handlers.set(v, h) };
  },
  deriveConstraint: (req: IncomingMessage) => (pathOf(req.url).endsWith(`/${FILE}`) ? FILE : undefined),
};

/**
 * `GET /pubkeys.gpg` (every trusted key) and `GET /PREFIX/pubkeys.gpg` (the keys trusted
 * for prefixes covering DOMAIN/PREFIX), where the classic static setup kept its keys file,
 * so `gpg --import` recipes keep working. Public like every key URL: rkt sends no
 * credentials for keys. The per-key URLs under /-/keys/ stay what discovery points at.
 */
export async function pubkeysRoutes(app: FastifyInstance, opts: { registry: Registry; answers: Remembers }): Promise<void> {
  const { registry } = opts;
  if (!app.hasConstraintStrategy(CONSTRAINT)) app.addConstraintStrategy(keysFilePaths as never);

  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/*',
    constraints: { [CONSTRAINT]: FILE },
    onSend: opts.answers.remember,
    handler: async (request, reply) => {
      const path = request.params['*'].slice(0, -FILE.length).replace(/\/+$/, '');
      const prefix = path ? `${registry.domain}/${path}` : registry.domain;
      const file = isImageName(prefix) ? keysFile(registry.keys, registry.domain, prefix) : null;
      if (!file) {
        throw notFound('KEYS_FILE_EMPTY', `no key is trusted for ${prefix}; acihost key add --prefix ${prefix} KEY.asc trusts one`);
      }
      const body = Buffer.from(file.armored);
      return sendObject(request, reply, {
        size: body.length,
        etag: `"${createHash('sha256').update(body).digest('hex')}"`,
        lastModified: new Date(Math.max(...keyDates(registry, file.fingerprints))),
        contentType: 'application/pgp-keys',
        // The file changes when keys are added or retired: short-lived, revalidated by ETag.
        cacheControl: 'public, max-age=300',
        open: async (range) => (range ? body.subarray(range.start, range.end + 1) : body),
      });
    },
  });
}

function keyDates(registry: Registry, fingerprints: string[]): number[] {
  const wanted = new Set(fingerprints);
  return registry.keys
    .all()
    .filter((k) => wanted.has(k.fingerprint))
    .map((k) => Math.max(Date.parse(k.addedAt), k.retiredAt ? Date.parse(k.retiredAt) : 0));
}
