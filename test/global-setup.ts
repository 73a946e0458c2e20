/**
 * Once per `npm test`: one Ceph RGW cluster for every S3 test (its ports are
 * fixed, so there can be only one), and the test bucket. Each S3 test then works
 * under a key prefix of its own. The cluster is stopped at the end.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3_TEST } from './helpers/s3.ts';

const run = promisify(execFile);
const SCRIPT = new URL('../scripts/ceph-s3.sh', import.meta.url).pathname;

export async function globalSetup(): Promise<void> {
  await run(SCRIPT, ['start'], {
    env: { ...process.env, D: S3_TEST.stateDir, AK: S3_TEST.accessKeyId, SK: S3_TEST.secretAccessKey },
    timeout: 180_000,
  });
  const client = new S3Client({
    endpoint: S3_TEST.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_TEST.accessKeyId, secretAccessKey: S3_TEST.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: S3_TEST.bucket }));
  } finally {
    client.destroy();
  }
}

export async function globalTeardown(): Promise<void> {
  await run(SCRIPT, ['stop'], { env: { ...process.env, D: S3_TEST.stateDir } }).catch(() => undefined);
}
