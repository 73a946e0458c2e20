import type { Readable } from 'node:stream';
import { readDetachedSignature, type DetachedSignature } from '../../signing/signature.ts';
import { InternalError } from '../../errors.ts';
import { authorize, type TokenRecord } from '../access/tokens.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import type { ServerSigner } from '../trust/server-signing.ts';
import type { Admission, Quotas } from '../quota/quotas.ts';
import type { PublishResult, Publisher } from './publisher.ts';
import { stageImage, type StageContext, type StagedImage } from './stage-image.ts';

/**
 * The front door for a push that brings its image and signature together, in
 * either order: curl's `POST /-/push`, and `acihost import`. It stages, checks,
 * publishes, cleans up and audits; its callers read the parts and answer.
 */
export class PushService {
  private readonly services: PushServices;

  constructor(opts: PushServices) {
    this.services = opts;
  }

  /** One push by `token`; `signal` is the lifetime of what carries its bytes. */
  begin(token: TokenRecord, signal: AbortSignal): Push {
    return new Push(token, signal, this.services);
  }
}

interface PushServices {
  context: StageContext;
  publisher: Publisher;
  audit: AuditLog;
  quotas?: Quotas;
}

export class Push {
  private signature: DetachedSignature | undefined;
  private staged: StagedImage | undefined;
  private admission: Admission | undefined;
  private signedBy: string | undefined;
  private readonly token: TokenRecord;
  private readonly signal: AbortSignal;
  private readonly context: StageContext;
  private readonly publisher: Publisher;
  private readonly audit: AuditLog;
  private readonly quotas: Quotas | undefined;

  constructor(token: TokenRecord, signal: AbortSignal, services: PushServices) {
    this.token = token;
    this.signal = signal;
    this.context = services.context;
    this.publisher = services.publisher;
    this.audit = services.audit;
    this.quotas = services.quotas;
  }

  /**
   * Lets the push in under the quotas covering every name its token may push, before any of
   * its image is read: refused at once when they are full, or too full for `declaredBytes`,
   * the least the image can be; else its image is capped at what they leave.
   */
  async admit(declaredBytes: number): Promise<void> {
    try {
      this.admission = await this.quotas?.admit({ under: this.token.prefixes, bytes: declaredBytes });
    } catch (e) {
      await this.refuse(e);
      throw e;
    }
  }

  get signed(): boolean {
    return this.signature !== undefined;
  }

  get hasImage(): boolean {
    return this.staged !== undefined;
  }

  /** The fingerprint of the server key that signed this push (signByServer), if one did. */
  get serverSigner(): string | undefined {
    return this.signedBy;
  }

  /** The armored detached signature; given before the image, the image is verified while it streams. */
  async sign(bytes: Buffer): Promise<void> {
    this.signature = await readDetachedSignature(bytes);
  }

  async stage(source: Readable): Promise<void> {
    this.staged = await stageImage(this.context, { source, signature: this.signature, signal: this.signal, cap: this.admission?.cap });
  }

  /**
   * Has the server sign the staged image, for a token with the sign scope that sent no
   * signature. The bytes are read back from storage, so the signature covers exactly what is
   * published; the check is recorded on the staged image, so the publisher does not verify
   * it again, but still judges the signer as for any push (trusted for the name, not retired).
   * Refused, the staged copy goes and the refusal is audited under the image's name.
   */
  async signByServer(signer: ServerSigner): Promise<void> {
    const staged = this.staged;
    if (!staged) throw new InternalError('PUSH_NOT_STAGED', 'signByServer called before an image was staged');
    if (this.signature) return;
    try {
      const name = staged.inspection.manifest.name;
      authorize(this.token, 'sign', name);
      const ref = signer.signerFor(name);
      if (!ref) throw signer.noSignerError(name);
      const data = await this.context.storage.read(staged.stagedKey);
      this.signature = await signer.signWith(ref, data, this.signal);
      staged.signatureCheck = { signer: ref.fingerprint, byServer: true };
      this.signedBy = ref.fingerprint;
    } catch (e) {
      this.staged = undefined;
      await this.quotas?.releaseAdmission(this.admission);
      await this.publisher.refuse(this.token, staged, e);
      throw e;
    }
  }

  /**
   * Refused before the image was read far enough to name it: the staged copy goes,
   * and the refusal is audited here (the publisher audits every later outcome).
   */
  async refuse(e: unknown): Promise<void> {
    await this.discard();
    await this.audit.record({ actor: this.token.id, action: 'push', ...refusal(e) });
  }

  /**
   * Publishes what was staged. `reauthenticate` gives the token as it stands now:
   * one revoked while the image streamed in must not publish it, so the decision
   * follows the state at the verification step, not at the start of the upload.
   */
  async publish(reauthenticate: () => Promise<TokenRecord>): Promise<PublishResult> {
    const staged = this.staged;
    if (!staged) throw new InternalError('PUSH_NOT_STAGED', 'publish called before an image was staged');
    const current = await reauthenticate().catch(async (e: unknown) => {
      await this.discard();
      throw e;
    });
    // Consumed by the publisher from here, published or removed.
    this.staged = undefined;
    try {
      return await this.publisher.publish(current, staged, this.signature, this.admission);
    } finally {
      await this.quotas?.releaseAdmission(this.admission);
    }
  }

  /** Ends a push that stops before staging an image: its claim on the quotas goes. */
  release(): Promise<void> {
    return this.discard();
  }

  private async discard(): Promise<void> {
    await this.quotas?.releaseAdmission(this.admission);
    const staged = this.staged;
    this.staged = undefined;
    if (staged) await this.context.storage.delete(staged.stagedKey).catch(() => {});
  }
}
