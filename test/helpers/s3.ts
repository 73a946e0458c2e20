import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Options } from '../../src/storage/s3-storage.ts';

/** The Ceph RGW that test/global-setup.ts starts for the whole run. */
export const S3_TEST = {
  endpoint: 'http://127.0.0.1:7480',
  bucket: 'acihost-test',
  accessKeyId: 'TESTACCESSKEY123',
  secretAccessKey: 'testsecretkey1234567890',
  stateDir: join(tmpdir(), 'acihost-ceph'),
};

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
