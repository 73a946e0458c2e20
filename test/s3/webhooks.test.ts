/** Three replicas on one S3 bucket (Ceph RGW) deliver each webhook event once (test/helpers/webhook-replicas.ts). */
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { s3Env, s3Options, uniquePrefix, s3Ready } from '../helpers/s3.ts';
import { webhookReplicaTests } from '../helpers/webhook-replicas.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

webhookReplicaTests('one S3 bucket', async () => {
  const prefix = uniquePrefix('webhooks');
  return { env: s3Env(prefix), storage: new CheckedStorage(new S3Storage(s3Options(prefix))) };
});
