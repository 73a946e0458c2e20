/** The bench's own S3 calls: its bucket, clean-up under a prefix. */
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { KEYS, RGW } from './ceph.ts';

export const BUCKET = 'acihost-bench';

/** A client like acihost's (src/storage/s3-storage.ts): RGW 16 refuses the SDK's checksum trailers. */
export function s3Client(): S3Client {
  return new S3Client({
    endpoint: RGW,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: KEYS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function ensureBucket(client: S3Client): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((e: Error) => {
    if (e.name !== 'BucketAlreadyOwnedByYou' && e.name !== 'BucketAlreadyExists') throw e;
  });
}

/** Deletes every object under `prefix` except `keep`; returns how many went. */
export async function deleteUnder(client: S3Client, prefix: string, keep: (key: string) => boolean = () => false): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => o.Key!).filter((k) => !keep(k));
    // One by one: DeleteObjects needs a checksum header that RGW 16 and the SDK disagree on.
    for (const Key of keys) await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key }));
    deleted += keys.length;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

export function s3Env(prefix: string): Record<string, string> {
  return {
    ACIHOST_STORAGE_BACKEND: 's3',
    ACIHOST_S3_ENDPOINT: RGW,
    ACIHOST_S3_REGION: 'us-east-1',
    ACIHOST_S3_BUCKET: BUCKET,
    ACIHOST_S3_PREFIX: prefix,
    ACIHOST_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
  };
}
