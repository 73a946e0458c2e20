import { addAbortSignal, PassThrough, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parsePushTarget } from '../url-coordinates.ts';
import { AcihostError, isAcihostError, notFound } from '../../errors.ts';
import { urls } from '../../discovery/urls.ts';
import type { Registry } from '../../registry/registry.ts';
import { UPLOAD_PARTS, type UploadPart } from '../../registry/acpush/acpush-uploads.ts';
import { authorizeScope, type TokenRecord } from '../../registry/access/tokens.ts';
import { presentedToken } from '../credentials.ts';
import type { UploadSlots } from '../upload-slots.ts';
import { drainRequest } from '../read-capped.ts';
import { requestLifetime } from '../request-lifetime.ts';
import { completionAnswer, readCompletionReport } from './acpush-completion.ts';

const START_USAGE = 'push URLs look like /-/acpush/start/NAME/VERSION/OS/ARCH.aci';

/**
 * The body as a stream of its own: consumers may destroy it without destroying
 * the socket, so a refused part is still read to its end and answered (acpush
 * shows a broken pipe instead of the status otherwise, acpush-wire.md 1f).
 * pipe() does not pass on a cut connection, so the request's lifetime ends it.
 */
function detachedBody(request: FastifyRequest, reply: FastifyReply): Readable {
  const body = addAbortSignal(requestLifetime(request, reply), new PassThrough({ highWaterMark: 1024 * 1024 }));
  body.on('error', () => {}); // its consumer reports the failure
  request.raw.pipe(body);
  return body;
}

/** acpush reads 400 as success (acpush-wire.md 1f): a malformed part is refused as invalid instead. */
function neverBadRequest(e: unknown): unknown {
  return isAcihostError(e) && e.kind === 'malformed' ? new AcihostError('invalid', e.code, e.message, { cause: e }) : e;
}

/**
 * The acpush protocol (docs/http-api.md#pushing-with-acpush, docs/acpush-wire.md §1): a start POST,
 * PUTs of the manifest, signature and image in any order, and a completion POST.
 * Start and parts answer exactly 200 or a 4xx/5xx other than 400; the completion
 * always answers 200 JSON, since its server_reason is the only text acpush shows.
 */
export async function acpushRoutes(
  app: FastifyInstance,
  opts: { registry: Registry; uploadSlots: UploadSlots; maxCompressedBytes: number },
): Promise<void> {
  const { registry } = opts;
  const { uploads } = registry;
  const drain = (request: FastifyRequest) => drainRequest(request.raw, opts.maxCompressedBytes);

  // Parts come with no Content-Type, or any: every body in this scope is streamed as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  async function pushToken(request: FastifyRequest): Promise<TokenRecord> {
    const token = await registry.tokens.authenticate(presentedToken(request));
    authorizeScope(token, 'push');
    return token;
  }

  app.post<{ Params: { '*': string } }>('/-/acpush/start/*', async (request, reply) => {
    try {
      const token = await pushToken(request);
      const path = request.params['*'];
      if (!path.endsWith('.aci')) throw notFound('ACPUSH_URL_INVALID', START_USAGE);
      const target = parsePushTarget(path.slice(0, -'.aci'.length), START_USAGE);
      const session = await uploads.start(token, target);
      request.log.info({ name: target.name, version: target.version }, 'acpush upload started');
      const url = (what: Parameters<typeof urls.upload>[2]) => urls.upload(registry.origin, session.id, what);
      return reply.status(200).send({
        aci_push_version: '0.0.1',
        multipart: false,
        upload_manifest_url: url('manifest'),
        upload_signature_url: url('signature'),
        upload_aci_url: url('aci'),
        completed_url: url('complete'),
      });
    } catch (e) {
      await drain(request);
      throw neverBadRequest(e);
    }
  });

  app.put<{ Params: { id: string; part: string } }>('/-/acpush/uploads/:id/:part', async (request, reply) => {
    const body = detachedBody(request, reply);
    try {
      const part = request.params.part as UploadPart;
      if (!UPLOAD_PARTS.includes(part)) throw notFound('ACPUSH_PART_UNKNOWN', 'upload parts are manifest, signature and aci');
      const token = await pushToken(request);
      opts.uploadSlots.take(token.id, reply.raw);
      await uploads.receive(await uploads.open(request.params.id, token), part, body, requestLifetime(request, reply));
    } catch (e) {
      throw neverBadRequest(e);
    } finally {
      await drain(request);
    }
    return reply.status(200).send({});
  });

  app.post<{ Params: { id: string } }>('/-/acpush/uploads/:id/complete', { config: { answersIn200: true } }, async (request, reply) => {
    const answer = await completionAnswer(request, async () => {
      const report = await readCompletionReport(detachedBody(request, reply));
      const token = await pushToken(request);
      const session = await uploads.open(request.params.id, token);
      if (!report.success) {
        request.log.info({ reason: report.reason }, 'acpush client reported a failure');
        await uploads.abandon(session, token);
      }
      const result = await uploads.complete(session, token);
      const { name, version, os, arch } = result.record;
      request.log.info({ name, version, os, arch, outcome: result.outcome }, 'push accepted');
    });
    await drain(request);
    return reply.status(200).send(answer);
  });
}
