import { z } from 'zod';
import { imageManifestSchema } from '../../aci/manifest-schema.ts';
import type { ErrorCode } from '../../error-codes.ts';
import { AcihostError, isAcihostError, type ErrorKind } from '../../errors.ts';
import type { StagedImage } from '../publish/stage-image.ts';

const errorSchema = z.object({ kind: z.string(), code: z.string(), message: z.string() });

const recordSchema = z.object({
  uploadId: z.string(),
  stagedKey: z.string(),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  inspection: z.object({
    manifest: z.unknown(),
    imageId: z.string().regex(/^sha512-[0-9a-f]{128}$/),
    uncompressedSize: z.number().int().nonnegative(),
    compression: z.enum(['gzip', 'bzip2', 'xz', 'none']),
    entries: z.number().int().nonnegative(),
  }),
  signatureCheck: z.union([z.object({ signer: z.string() }), z.object({ error: errorSchema })]).optional(),
});

/**
 * A staged image as a record (image.json in the upload session), so the process
 * that completes the upload need not be the one that received the image. A
 * streamed signature verdict is kept when it is a coded error; anything else is
 * left out and the publisher verifies from the staged copy instead.
 */
export function serializeStagedImage(image: StagedImage): Buffer {
  const check = image.signatureCheck;
  let signatureCheck: z.infer<typeof recordSchema>['signatureCheck'];
  if (check && 'signer' in check) signatureCheck = { signer: check.signer };
  else if (check && isAcihostError(check.error)) {
    signatureCheck = { error: { kind: check.error.kind, code: check.error.code, message: check.error.message } };
  }
  return Buffer.from(JSON.stringify({ ...image, signatureCheck }));
}

export function parseStagedImage(bytes: Buffer): StagedImage {
  const r = recordSchema.parse(JSON.parse(bytes.toString('utf8')));
  const manifest = imageManifestSchema.parse(r.inspection.manifest);
  const check = r.signatureCheck;
  const signatureCheck =
    check && 'error' in check
      ? { error: new AcihostError(check.error.kind as ErrorKind, check.error.code as ErrorCode, check.error.message) }
      : check;
  return { ...r, inspection: { ...r.inspection, manifest }, ...(signatureCheck ? { signatureCheck } : {}) };
}
