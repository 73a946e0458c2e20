import { randomBytes } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInspector, type InspectLimits, type InspectResult } from '../../aci/inspect.ts';
import { isAcihostError } from '../../errors.ts';
import type { DetachedSignature } from '../../signing/signature.ts';
import { createVerifier, type TrustedKey } from '../../signing/verifier.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { UploadTap, type ByteCap } from './upload-tap.ts';

export interface StageLimits extends InspectLimits {
  maxCompressedBytes: number;
}

/** What every staging needs from the registry, whichever front door the image came by. */
export interface StageContext {
  storage: Storage;
  limits: StageLimits;
  keys: () => TrustedKey[];
  /** Hears the size of every chunk staged (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
}

export interface StagedImage {
  uploadId: string;
  stagedKey: string;
  digest: string;
  size: number;
  inspection: InspectResult;
  /**
   * Set when the signature arrived first and was checked while the image streamed.
   * A failed check is kept, not thrown, so the publisher reports name and token
   * problems first, as it does when the signature comes last.
   */
  signatureCheck?:
    { signer: string; /** The server made the signature (a push with the sign scope). */ byServer?: true } | { error: unknown };
}

// After a failure every consumer is destroyed; none should take long to notice.
const SETTLE_AFTER_FAILURE_MS = 5000;

/**
 * Streams an upload into a staging object while inspecting the archive, hashing it
 * and, when the signature is already known, verifying it: one pass, bounded memory.
 * On any failure the staged object is removed and the most telling error is thrown
 * (a typed domain error before a stream's "premature close").
 *
 * `signal` is the lifetime of the request that carries the image: once it aborts,
 * every stream is destroyed and the scratch and staged files are removed, since a
 * source whose connection is gone may never end or fail on its own.
 */
export async function stageImage(
  context: StageContext,
  upload: {
    source: Readable;
    signature?: DetachedSignature;
    /** The upload's lifetime (src/http/request-lifetime.ts): aborted, the work stops wherever it is. */
    signal: AbortSignal;
    /** Where to stage, from the upload id; default tmp/uploads/. acpush stages inside its upload session. */
    stagedKey?: (uploadId: string) => string;
    /** Refuses the upload the moment it passes these bytes (what its quotas leave). */
    cap?: ByteCap;
  },
): Promise<StagedImage> {
  const opts = { ...context, ...upload };
  const uploadId = randomBytes(16).toString('hex');
  const stagedKey = (opts.stagedKey ?? layout.stagedUpload)(uploadId);
  const inspector = createInspector(opts.limits);
  const verifier = opts.signature ? createVerifier(opts.signature, opts.keys(), { onBytes: opts.onBytes }) : undefined;
  // Each byte is counted once: with the signature first its verification drains these
  // bytes and counts them (src/signing/verifier.ts); without, the tap does.
  const tap = verifier
    ? new UploadTap([inspector.sink, verifier.sink], opts.limits.maxCompressedBytes, undefined, opts.cap)
    : new UploadTap([inspector.sink], opts.limits.maxCompressedBytes, opts.onBytes, opts.cap);
  // Small queues: chunks held across collections are promoted and then linger as garbage.
  const body = new PassThrough({ highWaterMark: 256 * 1024 });
  const work = [
    pipeline(opts.source, tap, body),
    opts.storage.put(stagedKey, body),
    inspector.result,
    verifier?.result.then(
      (v) => ({ signer: v.signerFingerprint }),
      (error: unknown) => ({ error }),
    ),
  ] as const;
  // The whole upload may have passed the tap long before it is decoded: an abort
  // reaches the inspector and verifier themselves, which stop their decoders.
  const stop = () => {
    const reason = opts.signal.reason instanceof Error ? opts.signal.reason : new Error('the upload was abandoned');
    for (const stream of [opts.source, tap, body, inspector.sink, verifier?.sink]) stream?.destroy(reason);
  };
  if (opts.signal.aborted) stop();
  else opts.signal.addEventListener('abort', stop, { once: true });
  try {
    const [, , inspection, signatureCheck] = await firstFailureOrAll(work, (reason) => {
      tap.destroy(reason instanceof Error ? reason : new Error(String(reason)));
      body.destroy();
      opts.source.destroy();
    });
    return { uploadId, stagedKey, digest: tap.digest(), size: tap.size, inspection, signatureCheck };
  } catch (e) {
    await opts.storage.delete(stagedKey).catch(() => {});
    // A cut body can look like a bad archive to the inspector; the cut is what happened.
    throw opts.signal.aborted ? opts.signal.reason : e;
  } finally {
    opts.signal.removeEventListener('abort', stop);
  }
}

type Settled<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

async function firstFailureOrAll<T extends readonly unknown[]>(work: T, abort: (reason: unknown) => void): Promise<Settled<T>> {
  const promises = work.map((p) => Promise.resolve(p));
  for (const p of promises) p.catch(() => {}); // each is awaited below; none may go unhandled
  try {
    return (await Promise.all(promises)) as Settled<T>;
  } catch (first) {
    abort(first);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), SETTLE_AFTER_FAILURE_MS).unref());
    const settled = await Promise.race([Promise.allSettled(promises), timeout]);
    const reasons = settled === 'timeout' ? [] : settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    throw reasons.find(isAcihostError) ?? first;
  }
}
