import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import assert from 'node:assert/strict';
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
  await rm(dir, { recursive: true, force: true });
});
