/** Quotas over two replicas sharing one filesystem store (test/quotas/replica-suite.ts). */
import { tempDir } from '../helpers/temp-dir.ts';
import { quotaReplicaSuite } from './replica-suite.ts';

quotaReplicaSuite('quotas over two replicas on one filesystem store', async () => ({
  ACIHOST_STORAGE_DIR: await tempDir('acihost-quota-fs-'),
}));
