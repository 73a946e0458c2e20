import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart';
import { isAcihostError, malformed } from '../../errors.ts';
import { urls } from '../../discovery/urls.ts';
import type { Registry } from '../../registry/registry.ts';
import type { PublishResult } from '../../registry/publish/publisher.ts';
import type { Push } from '../../registry/publish/push-service.ts';
import { authorizeScope, hasScope, type TokenRecord } from '../../registry/access/tokens.ts';
import { MAX_SIGNATURE_BYTES } from '../../signing/signature.ts';
import { presentedToken } from '../credentials.ts';
import type { UploadSlots } from '../upload-slots.ts';
import { drainRequest, readCapped, settleUnreadBody } from '../read-capped.ts';
import { multipartRefusal, PUSH_RECIPE, unexpectedPart } from '../multipart-errors.ts';
import { requestLifetime } from '../request-lifetime.ts';

export function pushResponse(origin: string, { record }: PublishResult) {
  return {
    name: record.name,
    version: record.version,
    os: record.os,
    arch: record.arch,
    imageId: record.imageId,
    size: record.size,
    signer: record.signer,
    aciUrl: urls.aci(origin, record, 'aci'),
    ascUrl: urls.aci(origin, record, 'aci.asc'),
  };
}

// What a push's body holds besides the image: the signature part and the form's framing (busboy reads at most 16 KiB of headers a part).
const NOT_IMAGE_BYTES = MAX_SIGNATURE_BYTES + 40 * 1024;

/** The least the image of a push can be, from its Content-Length (0 when it sends none). */
function leastImageBytes(request: FastifyRequest): number {
  const declared = Number(request.headers['content-length']);
  return Number.isSafeInteger(declared) ? Math.max(0, declared - NOT_IMAGE_BYTES) : 0;
}

/**
 * `POST /-/push`, multipart with parts `aci` and `asc` in either order: the curl
 * front door to the publish pipeline. With the signature first the image is
 * verified while it streams; otherwise from the staged copy.
 */
export async function pushRoutes(
  app: FastifyInstance,
  opts: { registry: Registry; uploadSlots: UploadSlots; maxCompressedBytes: number },
): Promise<void> {
  const { registry, maxCompressedBytes } = opts;
  // Registered in this scope alone: @fastify/multipart adds hooks to every route of its scope.
  await app.register(multipart, {
    // One past the two expected parts of each kind: a third part reaches readParts, which names it.
    limits: { fileSize: maxCompressedBytes + 1, files: 3, fields: 3, parts: 3, headerPairs: 64 },
  });

  /** Hands each part to the push as it arrives: a signature first lets the image be verified while it streams. */
  async function readParts(request: FastifyRequest, push: Push): Promise<void> {
    for await (const part of request.parts()) {
      if (part.fieldname === 'asc' && !push.signed) {
        await push.sign(
          part.type === 'file'
            ? await readCapped(part.file, MAX_SIGNATURE_BYTES, 'signature part')
            : Buffer.from(String((part as MultipartValue).value)),
        );
      } else if (part.fieldname === 'aci' && part.type === 'file' && !push.hasImage) {
        await push.stage((part as MultipartFile).file);
      } else {
        throw unexpectedPart(part.fieldname);
      }
    }
  }

  /** The token, its scope and an upload slot: everything checked before the body is read. */
  async function admit(request: FastifyRequest, reply: FastifyReply): Promise<TokenRecord> {
    try {
      const token = await registry.tokens.authenticate(presentedToken(request));
      authorizeScope(token, 'push');
      opts.uploadSlots.take(token.id, reply.raw);
      if (!request.isMultipart()) {
        throw malformed('PUSH_NOT_MULTIPART', `send a multipart/form-data body: ${PUSH_RECIPE}`);
      }
      return token;
    } catch (e) {
      await settleUnreadBody(request, reply);
      throw e;
    }
  }

  app.post('/-/push', async (request, reply) => {
    const token = await admit(request, reply);
    const push = registry.pushes.begin(token, requestLifetime(request, reply));
    await push.admit(leastImageBytes(request)).catch(async (e: unknown) => {
      await settleUnreadBody(request, reply);
      throw e;
    });
    try {
      await readParts(request, push);
    } catch (e) {
      const refused = multipartRefusal(e);
      await push.refuse(refused);
      if (isAcihostError(refused) && (refused.kind === 'too-large' || refused.code === 'QUOTA_EXCEEDED'))
        reply.header('connection', 'close');
      else await drainRequest(request.raw, maxCompressedBytes);
      throw refused;
    }
    if (!push.hasImage) {
      await push.release();
      throw malformed('PUSH_IMAGE_MISSING', 'the push has no image part; send -F aci=@IMAGE.aci');
    }
    // With the sign scope and no signature part, the server signs what was staged.
    if (!push.signed && hasScope(token, 'sign')) await push.signByServer(registry.signer);
    const result = await push.publish(() => registry.tokens.authenticate(presentedToken(request)));
    // Said only when true: the answer to every other push keeps its shape.
    const byServer = push.serverSigner !== undefined && push.serverSigner === result.record.signer;
    const body = { ...pushResponse(registry.origin, result), ...(byServer ? { signedByServer: true } : {}) };
    request.log.info({ name: body.name, version: body.version, os: body.os, arch: body.arch, outcome: result.outcome }, 'push accepted');
    return reply
      .status(result.outcome === 'created' ? 201 : 200)
      .header('location', body.aciUrl)
      .send(body);
  });
}
