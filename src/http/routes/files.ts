import type { FastifyInstance } from 'fastify';
import { parseCoordinates } from '../url-coordinates.ts';
import { notFound } from '../../errors.ts';
import type { Registry } from '../../registry/registry.ts';
import type { Remembers } from '../memory-answers.ts';
import type { VersionRecord } from '../../registry/catalog/version-record.ts';
import { bufferOpener, memoizeServed, sendObject } from '../send-object.ts';
import { optionalToken, privateResponse } from '../viewer.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
// `latest` moves: clients must revalidate, and rkt must never skip the request on max-age.
const MOVING = 'no-cache';

interface FileAddress {
  name: string;
  version: string;
  os: string;
  arch: string;
  ext: 'aci' | 'aci.asc';
}

const USAGE = 'no image at this address; image URLs look like /-/aci/NAME/VERSION/OS/ARCH.aci (or .aci.asc)';

/** `/-/aci/<name>/<version>/<os>/<arch>.<ext>`; 404 unless every part is one a pushed image could have. */
function parseAddress(path: string): FileAddress {
  const ext = path.endsWith('.aci.asc') ? 'aci.asc' : path.endsWith('.aci') ? 'aci' : null;
  if (!ext) throw notFound('IMAGE_NOT_FOUND', USAGE);
  return { ...parseCoordinates(path.slice(0, -(ext.length + 1)), USAGE), ext };
}

// Signatures are served from memory, their ETag and date computed once per record.
const servedSignature = memoizeServed((record: VersionRecord) => ({
  body: Buffer.from(record.signature),
  lastModified: new Date(record.pushedAt),
}));

/**
 * The .aci and .aci.asc of every published version, and `latest` resolved per name/os/arch.
 * Under a pull-through prefix a version's first request converts it from upstream (src/registry/mirror/).
 */
export async function fileRoutes(
  app: FastifyInstance,
  opts: { registry: Registry; answers: Remembers; onBytes?: (bytes: number) => void },
): Promise<void> {
  const { registry } = opts;

  async function resolve(a: FileAddress): Promise<VersionRecord> {
    // A pull-through name converts what it has not yet, and follows its upstream tags (latest included).
    const mirrored = await registry.mirror.resolve(a);
    if (mirrored) return mirrored;
    const record = a.version === 'latest' ? registry.catalog.latest(a.name, a.os, a.arch) : await registry.catalog.find(a);
    if (!record) {
      throw notFound(
        'IMAGE_NOT_FOUND',
        `no image ${a.name} version ${a.version} for ${a.os}/${a.arch}; the discovery page lists what is stored`,
      );
    }
    return record;
  }

  // HEAD is routed here too: Fastify's automatic HEAD would zero Content-Length.
  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: '/-/aci/*',
    // Signatures are kept (an .aci is a stream, and is never kept).
    onSend: opts.answers.remember,
    handler: async (request, reply) => {
      const address = parseAddress(request.params['*']);
      const moving = address.version === 'latest' || registry.mirror.moves(address);
      // Under a private prefix the token is checked before existence, so refusals do not reveal versions.
      const isPrivate = registry.access.isPrivate(address.name);
      if (isPrivate) {
        privateResponse(reply, moving);
        registry.access.authorizeRead(await optionalToken(registry, request), address.name);
      }
      const record = await resolve(address);
      const vary = isPrivate ? 'Authorization' : undefined;
      const cacheControl = isPrivate ? String(reply.getHeader('cache-control')) : moving ? MOVING : IMMUTABLE;
      if (address.ext === 'aci.asc') {
        const signature = servedSignature(record);
        return sendObject(request, reply, {
          size: signature.body.length,
          etag: signature.etag,
          lastModified: signature.lastModified,
          contentType: 'application/pgp-signature',
          cacheControl,
          vary,
          open: bufferOpener(signature.body),
        });
      }
      return sendObject(request, reply, {
        size: record.size,
        etag: `"${record.digest}"`,
        lastModified: new Date(record.pushedAt),
        contentType: 'application/octet-stream',
        cacheControl,
        vary,
        open: (range) => registry.openImage(record, range),
        onBytes: opts.onBytes,
      });
    },
  });
}
