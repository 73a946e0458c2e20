/** Three replicas on one filesystem storage deliver each webhook event once (test/helpers/webhook-replicas.ts). */
import { join } from 'node:path';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { webhookReplicaTests } from '../helpers/webhook-replicas.ts';

webhookReplicaTests('one filesystem', async () => {
  const dir = join(await tempDir('acihost-webhook-storage-'), 'storage');
  return { env: { ACIHOST_STORAGE_DIR: dir }, storage: new CheckedStorage(new FsStorage(dir)) };
});
