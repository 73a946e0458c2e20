/** Quotas over two replicas sharing one bucket on a real Ceph RGW (test/quotas/replica-suite.ts). */
import { s3Env, uniquePrefix, s3Ready } from '../helpers/s3.ts';
import { quotaReplicaSuite } from '../quotas/replica-suite.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

quotaReplicaSuite('quotas over two replicas on one S3 bucket', async () => s3Env(uniquePrefix('quotas')));
