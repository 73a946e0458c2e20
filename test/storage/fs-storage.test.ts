import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { InternalError } from '../../src/errors.ts';
import { Metrics } from '../../src/ops/metrics/metrics.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { MeteredStorage } from '../../src/storage/metered-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { storedKeys } from '../helpers/storage-snapshot.ts';
import { storageConformance, type Subject } from './conformance.ts';

/** A filesystem store in a fresh directory, wrapped by `wrap`; every file in the directory counts as held. */
const onDisk = (wrap: (fs: FsStorage) => Storage) => async (): Promise<Subject> => {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-fs-'));
  return { storage: wrap(new FsStorage(dir)), everything: () => storedKeys(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
};

storageConformance(
  'filesystem',
  onDisk((fs) => fs),
);
storageConformance(
  'filesystem, checked',
  onDisk((fs) => new CheckedStorage(fs)),
);
// What the server runs on (src/server.ts).
storageConformance(
  'filesystem, checked and metered',
  onDisk((fs) => new MeteredStorage(new CheckedStorage(fs), new Metrics().storageMeter)),
);

it('the checked wrapper refuses keys that could leave the layout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-fs-'));
  const s = new CheckedStorage(new FsStorage(dir));
  for (const key of ['../escape', 'a/../../b', '/abs', 'a//b', 'a/./b', 'trailing/', '']) {
    await assert.rejects(s.put(key, Buffer.from('x')), /storage key refused/, key);
  }
  // A server bug, not a client's doing: typed, so it is logged and answered as a plain 500.
  await assert.rejects(s.get('a/../b'), (e: unknown) => e instanceof InternalError && e.code === 'STORAGE_KEY_REFUSED');
  for (const prefix of ['../', 'images/a//', 'images/../', '']) {
    await assert.rejects(
      (async () => {
        for await (const _ of s.list(prefix));
      })(),
      (e: unknown) => e instanceof InternalError && /storage prefix refused/.test(e.message),
      prefix,
    );
  }
  await rm(dir, { recursive: true, force: true });
});
