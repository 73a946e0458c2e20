import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3Options } from '../../src/storage/s3-storage.ts';

/** The Ceph RGW that test/global-setup.ts starts for the whole run. */
export const S3_TEST = {
  endpoint: 'http://127.0.0.1:7480',
  bucket: 'acihost-test',
  accessKeyId: 'TESTACCESSKEY123',
  secretAccessKey: 'testsecretkey1234567890',
  stateDir: join(tmpdir(), 'acihost-ceph'),
};

/** An SDK client of the test cluster, as the test user. */
export function s3TestClient(config: S3ClientConfig = {}): S3Client {
  return new S3Client({
    endpoint: S3_TEST.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_TEST.accessKeyId, secretAccessKey: S3_TEST.secretAccessKey },
    ...config,
  });
}

/** Where the global setup writes why the cluster did not start. */
export const S3_START_FAILED = `${S3_TEST.stateDir}.failed`;

const READY_WITHIN_MS = 180_000;

/**
 * Resolves once the test bucket answers; the global setup starts the cluster while the
 * first tests run. Rejects with the start's own failure, or after three minutes.
 */
export async function s3Ready(): Promise<void> {
  const client = s3TestClient({ maxAttempts: 1 });
  const bucketAnswers = () =>
    client.send(new HeadBucketCommand({ Bucket: S3_TEST.bucket })).then(
      () => true,
      () => false,
    );
  try {
    for (const deadline = Date.now() + READY_WITHIN_MS; ; await sleep(250)) {
      const failed = await readFile(S3_START_FAILED, 'utf8').catch(() => undefined);
      if (failed !== undefined) throw new Error(failed);
      if (await bucketAnswers()) return;
      if (Date.now() > deadline)
        throw new Error(
          `no bucket ${S3_TEST.bucket} at ${S3_TEST.endpoint} within ${READY_WITHIN_MS / 1000} s: npm test starts Ceph RGW for its run; ` +
            'for one file, start it first with scripts/ceph-s3.sh start',
        );
    }
  } finally {
    client.destroy();
  }
}

/** A fresh key prefix, so tests sharing the bucket never see each other. */
export const uniquePrefix = (label: string) => `${label}-${randomBytes(6).toString('hex')}/`;

export function s3Options(prefix: string, overrides: Partial<S3Options> = {}): S3Options {
  return {
    endpoint: S3_TEST.endpoint,
    region: 'us-east-1',
    bucket: S3_TEST.bucket,
    prefix,
    forcePathStyle: true,
    caFile: null,
    accessKeyId: S3_TEST.accessKeyId,
    secretAccessKey: S3_TEST.secretAccessKey,
    timeoutMs: 5000,
    partSizeBytes: 5 * 1024 * 1024,
    ...overrides,
  };
}

/** Environment that points an acihost process at the test bucket under `prefix`. */
export function s3Env(prefix: string): Record<string, string> {
  return {
    ACIHOST_STORAGE_BACKEND: 's3',
    ACIHOST_S3_ENDPOINT: S3_TEST.endpoint,
    ACIHOST_S3_REGION: 'us-east-1',
    ACIHOST_S3_BUCKET: S3_TEST.bucket,
    ACIHOST_S3_PREFIX: prefix,
    ACIHOST_S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: S3_TEST.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_TEST.secretAccessKey,
  };
}
