import type { Readable } from 'node:stream';
import { parseManifest } from '../../aci/manifest.ts';
import { isAcIdentifier } from '../../names.ts';
import type { ErrorCode } from '../../error-codes.ts';
import { AcihostError, invalid, isAcihostError, notFound, tooLarge, type ErrorKind } from '../../errors.ts';
import { MAX_SIGNATURE_BYTES, readDetachedSignature, type DetachedSignature } from '../../signing/signature.ts';
import { layout } from '../../storage/layout.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import type { Coordinates } from '../catalog/catalog.ts';
import type { PublishResult, Publisher } from '../publish/publisher.ts';
import { stageImage, type StageContext, type StagedImage } from '../publish/stage-image.ts';
import type { Admission, Quotas } from '../quota/quotas.ts';
import { authorize, type TokenRecord } from '../access/tokens.ts';
import { checkUploadAgreement, UNSPECIFIED_VERSION } from './upload-checks.ts';
import { parseStagedImage, serializeStagedImage } from './staged-record.ts';
import { UploadStore, type UploadSession } from './upload-store.ts';

export type UploadPart = 'manifest' | 'signature' | 'aci';
export const UPLOAD_PARTS: readonly UploadPart[] = ['manifest', 'signature', 'aci'];

// A refused part is answered 200 and reported at completion, whose server_reason
// is the only text acpush shows (a part's status reaches the user as a bare number).
const REPORTED_AT_COMPLETION: ReadonlySet<ErrorKind> = new Set(['invalid', 'too-large', 'malformed']);

const SIGN_AND_PUSH =
  'sign the image (gpg --armor --detach-sign IMAGE.aci) and pass both files: acpush IMAGE.aci IMAGE.aci.asc NAME:VERSION';

/**
 * The acpush front door to the one publish pipeline: upload sessions whose parts
 * arrive in any order, on any connection, at any process sharing the storage,
 * and a completion that runs the same checks and atomic publish as /-/push.
 */
export class AcpushUploads {
  readonly store: UploadStore;
  private readonly context: StageContext;
  private readonly publisher: Publisher;
  private readonly audit: AuditLog;
  private readonly quotas: Quotas | undefined;

  constructor(opts: {
    context: StageContext;
    publisher: Publisher;
    audit: AuditLog;
    expirySeconds: number;
    maxSessionsPerToken: number;
    quotas?: Quotas;
  }) {
    this.context = opts.context;
    this.publisher = opts.publisher;
    this.audit = opts.audit;
    this.quotas = opts.quotas;
    this.store = new UploadStore(opts.context.storage, { expirySeconds: opts.expirySeconds, maxPerToken: opts.maxSessionsPerToken });
  }

  /** Sessions in storage, as last counted (no listing). */
  get openSessions(): number {
    return this.store.openSessions.size;
  }

  /** Removes expired sessions (unless `remove` is false) and recounts the open ones; returns how many went. */
  sweep(remove = true): Promise<number> {
    return this.store.sweep(Date.now(), remove);
  }

  /** Opens a session for `target`, the push URL's claim, which the token must cover (at most limits.maxUploadSessionsPerToken). */
  async start(token: TokenRecord, target: Coordinates): Promise<UploadSession> {
    if (!isAcIdentifier(target.name)) {
      throw invalid(
        'ACPUSH_NAME_INVALID',
        `${JSON.stringify(target.name.slice(0, 200))} is not an image name; use lowercase names such as example.com/team/app`,
      );
    }
    authorize(token, 'push', target.name);
    // Refused at the start when the quotas covering the name are full: no part is sent for nothing.
    const unlessPublished = target.version === UNSPECIFIED_VERSION ? undefined : target;
    const admission = await this.quotas?.admit({ under: [target.name], bytes: 0, unlessPublished });
    try {
      return await this.store.create(token.id, target, undefined, admission?.id);
    } catch (e) {
      await this.quotas?.releaseAdmission(admission);
      throw e;
    }
  }

  /** The session `id` if it is alive and `token` started it. */
  open(id: string, token: TokenRecord): Promise<UploadSession> {
    return this.store.open(id, token.id);
  }

  /**
   * Stores one part. A part whose content fails a check is recorded for the
   * completion answer instead of being refused; after such a failure later parts
   * are not stored. The caller reads what is left of `body` afterwards. `signal`
   * is the request's lifetime: a part cut short is not a refusal to report, and
   * it ends the upload, since acpush never sends a part again; kept, it would
   * hold one of its token's sessions until it expired.
   */
  async receive(session: UploadSession, part: UploadPart, body: Readable, signal: AbortSignal): Promise<void> {
    if (await this.store.failure(session.id)) return;
    try {
      if (part === 'manifest') await this.receiveManifest(session, body);
      else if (part === 'signature') await this.receiveSignature(session, body);
      else await this.receiveImage(session, body, signal);
    } catch (e) {
      if (signal.aborted) await this.discard(session);
      if (signal.aborted || !isAcihostError(e) || !reportedAtCompletion(e)) throw e;
      await this.store.recordFailure(session.id, part, e);
    }
  }

  /**
   * Checks that the parts agree, then publishes through the same pipeline as
   * /-/push. The session is removed whatever the outcome, except while another
   * request is completing it. Every outcome is audited: the publisher's own, or
   * the refusal found before it, under the name the upload claimed.
   */
  async complete(session: UploadSession, token: TokenRecord): Promise<PublishResult> {
    await this.store.lockForCompletion(session.id);
    try {
      const image = await this.agreedImage(session).catch(async (e: unknown) => {
        await this.refused(session, token, e);
        throw e;
      });
      return await this.publisher.publish(token, image, await this.signature(session), admissionOf(session)).catch((e: unknown) => {
        if (isAcihostError(e) && e.code === 'SIGNATURE_MISSING') {
          // Invalid, not malformed as on /-/push: acpush reads a 400 as success.
          throw new AcihostError(
            'invalid',
            'SIGNATURE_MISSING',
            `the upload has no signature, and every image must be signed; ${SIGN_AND_PUSH}`,
          );
        }
        throw e;
      });
    } finally {
      await this.discard(session);
    }
  }

  /** The client reported that it gave up: nothing is published, and the upload goes. */
  async abandon(session: UploadSession, token: TokenRecord): Promise<never> {
    await this.discard(session);
    const e = invalid('ACPUSH_CLIENT_FAILED', 'the client reported a failed upload; it was discarded and nothing was published');
    await this.refused(session, token, e);
    throw e;
  }

  /** The staged image, once every part arrived unrefused and the parts agree with each other and the claim. */
  private async agreedImage(session: UploadSession): Promise<StagedImage> {
    const failure = await this.store.failure(session.id);
    if (failure) throw new AcihostError('invalid', failure.code as ErrorCode, `the ${failure.part} part was refused: ${failure.message}`);
    const manifestBytes = await this.store.get(session.id, 'manifest.json');
    const imageBytes = await this.store.get(session.id, 'image.json');
    if (!imageBytes) throw invalid('ACPUSH_ACI_MISSING', 'the upload has no ACI part; run acpush again with the .aci file');
    if (!manifestBytes)
      throw invalid('ACPUSH_MANIFEST_MISSING', 'the upload has no manifest part; PUT the image manifest before completing');
    const image = parseStagedImage(imageBytes);
    checkUploadAgreement(session, parseManifest(manifestBytes), image.inspection.manifest);
    return image;
  }

  private async refused(session: UploadSession, token: TokenRecord, e: unknown): Promise<void> {
    const { name, os, arch } = session;
    // A claimed `latest` stands for the manifest's version, unknown here.
    const version = session.version === 'latest' ? null : session.version;
    await this.audit.record({ actor: token.id, action: 'push', name, version, os, arch, imageId: null, ...refusal(e) });
  }

  private async receiveManifest(session: UploadSession, body: Readable): Promise<void> {
    const max = this.context.limits.maxManifestBytes;
    const bytes = await readPart(body, max, () =>
      tooLarge(
        'MANIFEST_TOO_LARGE',
        `the manifest part is larger than ${max} bytes (limits.maxManifestBytes); send the image's own manifest`,
      ),
    );
    parseManifest(bytes);
    await this.store.putOnce(session.id, 'manifest.json', bytes, 'manifest');
  }

  private async receiveSignature(session: UploadSession, body: Readable): Promise<void> {
    const bytes = await readPart(body, MAX_SIGNATURE_BYTES, () =>
      tooLarge('SIGNATURE_TOO_LARGE', `the signature part is larger than ${MAX_SIGNATURE_BYTES} bytes; ${SIGN_AND_PUSH}`),
    );
    const signature = await readDetachedSignature(bytes);
    await this.store.putOnce(session.id, 'signature.asc', Buffer.from(signature.armored), 'signature');
  }

  /** Streams the image into the session; with the signature already there, it is verified in the same pass. */
  private async receiveImage(session: UploadSession, body: Readable, signal: AbortSignal): Promise<void> {
    await this.store.assertAbsent(session.id, 'image.json', 'ACI'); // before streaming gigabytes for nothing
    const cap = session.quotaClaim ? await this.quotas?.cap([session.name], session.quotaClaim) : undefined;
    const image = await stageImage(this.context, {
      source: body,
      signature: await this.signature(session),
      signal,
      stagedKey: (stagingId) => layout.uploadImage(session.id, stagingId),
      cap,
    });
    try {
      await this.store.putOnce(session.id, 'image.json', serializeStagedImage(image), 'ACI');
      // A slow image may outlive its session (expired or discarded meanwhile): leave nothing behind.
      if (!(await this.store.exists(session.id))) {
        await this.discard(session);
        throw notFound('ACPUSH_UPLOAD_NOT_FOUND', 'the upload was removed while its ACI was arriving; run acpush again');
      }
    } catch (e) {
      await this.context.storage.delete(image.stagedKey).catch(() => {});
      throw e;
    }
  }

  /** Removes the upload and ends its claim on the quotas. */
  private async discard(session: UploadSession): Promise<void> {
    await this.store.discard(session.id);
    await this.quotas?.releaseAdmission(admissionOf(session));
  }

  private async signature(session: UploadSession): Promise<DetachedSignature | undefined> {
    const bytes = await this.store.get(session.id, 'signature.asc');
    return bytes ? readDetachedSignature(bytes) : undefined;
  }
}

/** A refused part the completion reports: its kind is one acpush would show as a bare status, or a quota says what to do. */
const reportedAtCompletion = (e: AcihostError) => REPORTED_AT_COMPLETION.has(e.kind) || e.code === 'QUOTA_EXCEEDED';

/** The upload's claim on its quotas, as the request at hand (on any replica) knows it. */
const admissionOf = (session: UploadSession): Admission | undefined => (session.quotaClaim ? { id: session.quotaClaim } : undefined);

/** Reads a small part whole; past `max` it stops and throws, and the caller drains the rest. */
async function readPart(body: Readable, max: number, tooBig: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) throw tooBig();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
