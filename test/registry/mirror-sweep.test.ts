/** The sweep removes what requests for tags that never converted leave: old failures and dead leases. */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { layout } from '../../src/storage/layout.ts';
import { storedKeys } from '../helpers/storage-snapshot.ts';
import { openRegistry } from '../helpers/retention.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe('the sweep and the mirror', () => {
  it('removes failures and leases untouched for an hour, and keeps newer ones and tag states', async () => {
    const dir = await tempDir('mirror-sweep-');
    const c = (tag: string) => ({ name: 'localhost/mirror/library/app', version: tag, os: 'linux', arch: 'amd64' });
    const old = [layout.mirrorFailed(c('gone')), layout.mirrorConverting(c('dead'))];
    const fresh = [layout.mirrorFailed(c('new')), layout.mirrorConverting(c('live')), layout.mirrorTag(c('1.0'))];
    const hourAgo = new Date(Date.now() - 3_700_000);
    for (const key of [...old, ...fresh]) {
      await mkdir(dirname(join(dir, key)), { recursive: true });
      await writeFile(join(dir, key), '{}');
      if (old.includes(key) || key === layout.mirrorTag(c('1.0'))) await utimes(join(dir, key), hourAgo, hourAgo);
    }
    const registry = await openRegistry(dir);
    try {
      await registry.sweep();
    } finally {
      await registry.close();
    }
    assert.deepEqual(
      (await storedKeys(dir)).filter((k) => k.startsWith('mirror/')),
      [...fresh].sort(),
    );
  });
});
