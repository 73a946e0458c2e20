import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { InternalError } from '../../src/errors.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { storageConformance } from './conformance.ts';

storageConformance('filesystem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'acihost-fs-'));
  return { storage: new CheckedStorage(new FsStorage(dir)), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

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
