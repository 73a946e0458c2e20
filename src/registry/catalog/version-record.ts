import { z } from 'zod';

/** What a published version is: written once, create-only, as the commit point of a publish. */
export const versionRecordSchema = z.object({
  name: z.string(),
  version: z.string(),
  os: z.string(),
  arch: z.string(),
  imageId: z.string().regex(/^sha512-[0-9a-f]{128}$/),
  /** sha256 of the exact .aci bytes: the ETag, and how a retry with identical bytes is recognised. */
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  uncompressedSize: z.number().int().nonnegative(),
  compression: z.enum(['gzip', 'bzip2', 'xz', 'none']),
  /** The detached signature, armored with its CRC24 line, exactly as served. */
  signature: z.string(),
  signer: z.string().regex(/^[0-9a-f]{40}$/),
  tokenId: z.string(),
  pushedAt: z.string(),
  blob: z.string(),
});

export type VersionRecord = z.infer<typeof versionRecordSchema>;

export function parseVersionRecord(bytes: Buffer): VersionRecord {
  return versionRecordSchema.parse(JSON.parse(bytes.toString('utf8')));
}

export const serializeVersionRecord = (r: VersionRecord): Buffer => Buffer.from(JSON.stringify(r, null, 1));
