import type { Readable } from 'node:stream';
import { readDetachedSignature, type DetachedSignature } from '../../signing/signature.ts';
import { InternalError } from '../../errors.ts';
import type { TokenRecord } from '../access/tokens.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import type { PublishResult, Publisher } from './publisher.ts';
import { stageImage, type StageContext, type StagedImage } from './stage-image.ts';

/**
 * The front door for a push that brings its image and signature together, in
 * either order: curl's `POST /-/push`, and `acihost import`. It stages, checks,
 * publishes, cleans up and audits; its callers read the parts and answer.
 */
export class PushService {
  private readonly context: StageContext;
  private readonly publisher: Publisher;
  private readonly audit: AuditLog;

  constructor(opts: { context: StageContext; publisher: Publisher; audit: AuditLog }) {
    this.context = opts.context;
    this.publisher = opts.publisher;
    this.audit = opts.audit;
  }

  /** One push by `token`; `signal` is the lifetime of what carries its bytes. */
  begin(token: TokenRecord, signal: AbortSignal): Push {
    return new Push(token, signal, this.context, this.publisher, this.audit);
  }
}

export class Push {
  private signature: DetachedSignature | undefined;
  private staged: StagedImage | undefined;
  private readonly token: TokenRecord;
  private readonly signal: AbortSignal;
  private readonly context: StageContext;
  private readonly publisher: Publisher;
  private readonly audit: AuditLog;

  constructor(token: TokenRecord, signal: AbortSignal, context: StageContext, publisher: Publisher, audit: AuditLog) {
    this.token = token;
    this.signal = signal;
    this.context = context;
    this.publisher = publisher;
    this.audit = audit;
  }

  get signed(): boolean {
    return this.signature !== undefined;
  }

  get hasImage(): boolean {
    return this.staged !== undefined;
  }

  /** The armored detached signature; given before the image, the image is verified while it streams. */
  async sign(bytes: Buffer): Promise<void> {
    this.signature = await readDetachedSignature(bytes);
  }

  async stage(source: Readable): Promise<void> {
    this.staged = await stageImage(this.context, { source, signature: this.signature, signal: this.signal });
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
    return this.publisher.publish(current, staged, this.signature);
  }

  private async discard(): Promise<void> {
    const staged = this.staged;
    this.staged = undefined;
    if (staged) await this.context.storage.delete(staged.stagedKey).catch(() => {});
  }
}
