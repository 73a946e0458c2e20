import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart, { type MultipartFile, type MultipartValue } from '@fastify/multipart';
import { isAcihostError, malformed } from '../../errors.ts';
import { urls } from '../../discovery/urls.ts';
import type { Registry } from '../../registry/registry.ts';
import type { PublishResult } from '../../registry/publish/publisher.ts';
import { stageImage, type StagedImage } from '../../registry/publish/stage-image.ts';
import { refusal } from '../../registry/audit-log.ts';
import { authorizeScope, type TokenRecord } from '../../registry/access/tokens.ts';
import { readDetachedSignature, type DetachedSignature } from '../../signing/signature.ts';
import { presentedToken } from '../credentials.ts';
import type { UploadSlots } from '../upload-slots.ts';
import { drainRequest, readCapped } from '../read-capped.ts';
import { multipartRefusal, PUSH_RECIPE, unexpectedPart } from '../multipart-errors.ts';
import { requestLifetime } from '../request-lifetime.ts';

const MAX_SIGNATURE_BYTES = 64 * 1024;

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

/**
 * `POST /-/push`, multipart with parts `aci` and `asc` in either order: the curl
 * front door to the publish pipeline. With the signature first the image is
 * verified while it streams; otherwise from the staged copy.
 */
export async function pushRoutes(app: FastifyInstance, opts: { registry: Registry; uploadSlots: UploadSlots }): Promise<void> {
  const { registry } = opts;
  const { limits } = registry.config;
  // Registered in this scope alone: @fastify/multipart adds hooks to every route of its scope.
  await app.register(multipart, {
    // One past the two expected parts of each kind: a third part reaches readParts, which names it.
    limits: { fileSize: limits.maxCompressedBytes + 1, files: 3, fields: 3, parts: 3, headerPairs: 64 },
  });

  async function readParts(request: FastifyRequest, signal: AbortSignal): Promise<{ image?: StagedImage; signature?: DetachedSignature }> {
    let image: StagedImage | undefined;
    let signature: DetachedSignature | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.fieldname === 'asc' && !signature) {
          const bytes =
            part.type === 'file'
              ? await readCapped(part.file, MAX_SIGNATURE_BYTES, 'signature part')
              : Buffer.from(String((part as MultipartValue).value));
          signature = await readDetachedSignature(bytes);
        } else if (part.fieldname === 'aci' && part.type === 'file' && !image) {
          image = await stageImage({
            storage: registry.storage,
            source: (part as MultipartFile).file,
            limits,
            signature,
            keys: registry.keys.verificationKeys(),
            signal,
          });
        } else {
          throw unexpectedPart(part.fieldname);
        }
      }
    } catch (e) {
      if (image) await registry.storage.delete(image.stagedKey).catch(() => {});
      throw multipartRefusal(e);
    }
    return { image, signature };
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
      // Kept alive, the connection would take in the whole refused body, however large, to reuse it.
      reply.header('connection', 'close');
      throw e;
    }
  }

  app.post('/-/push', async (request, reply) => {
    const token = await admit(request, reply);
    let parts: Awaited<ReturnType<typeof readParts>>;
    try {
      parts = await readParts(request, requestLifetime(request, reply));
    } catch (e) {
      if (isAcihostError(e) && e.kind === 'too-large') reply.header('connection', 'close');
      else await drainRequest(request.raw, limits.maxCompressedBytes);
      // Refused before the image was read far enough to name it; the publisher audits everything later.
      await registry.audit.record({ actor: token.id, action: 'push', ...refusal(e) });
      throw e;
    }
    if (!parts.image) {
      throw malformed('PUSH_IMAGE_MISSING', 'the push has no image part; send -F aci=@IMAGE.aci');
    }
    // A token revoked while the image streamed in must not publish it: the decision
    // follows the state at the verification step, not at the start of the upload.
    const current = await registry.tokens.authenticate(presentedToken(request)).catch(async (e: unknown) => {
      await registry.storage.delete(parts.image!.stagedKey).catch(() => {});
      throw e;
    });
    const result = await registry.publisher.publish(current, parts.image, parts.signature);
    const body = pushResponse(registry.origin, result);
    request.log.info({ name: body.name, version: body.version, os: body.os, arch: body.arch, outcome: result.outcome }, 'push accepted');
    return reply
      .status(result.outcome === 'created' ? 201 : 200)
      .header('location', body.aciUrl)
      .send(body);
  });
}
