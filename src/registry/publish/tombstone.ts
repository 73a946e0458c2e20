import { z } from 'zod';

/**
 * What is left of a deleted version: enough to refuse a silent re-push of other
 * bytes under the same coordinates, and to tell an operator who deleted what.
 */
export const tombstoneSchema = z.object({
  name: z.string(),
  version: z.string(),
  os: z.string(),
  arch: z.string(),
  imageId: z.string(),
  digest: z.string(),
  deletedAt: z.string(),
  tokenId: z.string(),
});

export type Tombstone = z.infer<typeof tombstoneSchema>;

export const serializeTombstone = (t: Tombstone): Buffer => Buffer.from(JSON.stringify(t, null, 1));
