/**
 * Quota records as every replica's mirror reads them: a quota set again is seen even
 * within the second of the one it replaced, on a store that keeps times to the second
 * (S3's Last-Modified), where size and time are all a listing tells.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { QuotaStore } from '../../src/registry/quota/quota-store.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import type { ByteRange, ListOptions, ObjectInfo, PutOptions, Storage } from '../../src/storage/storage.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** Modification times cut to the second, as S3 reports them. */
class SecondsStorage implements Storage {
  private readonly inner: Storage;
  constructor(inner: Storage) {
    this.inner = inner;
  }
  private static cut(info: ObjectInfo): ObjectInfo {
    return { ...info, modified: new Date(Math.floor(info.modified.getTime() / 1000) * 1000) };
  }
  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.inner.read(key, range);
  }
  get(key: string): Promise<Buffer | null> {
    return this.inner.get(key);
  }
  async stat(key: string): Promise<ObjectInfo | null> {
    const info = await this.inner.stat(key);
    return info && SecondsStorage.cut(info);
  }
  async put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<ObjectInfo> {
    return SecondsStorage.cut(await this.inner.put(key, body, options));
  }
  promote(from: string, to: string): Promise<void> {
    return this.inner.promote(from, to);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    for await (const o of this.inner.list(prefix, options)) yield SecondsStorage.cut(o);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe('quota records', () => {
  it('a quota set again within the second is seen by a mirror that read the one before', async () => {
    const storage = new SecondsStorage(new FsStorage(await tempDir('acihost-quota-store-')));
    const cli = new QuotaStore(storage, 'localhost');
    const replica = new QuotaStore(storage, 'localhost');
    for (const maxBytes of [1000, 2000, 3000, 4000]) {
      await cli.set('localhost/team', { maxBytes, maxVersions: null });
      await replica.mirror.refresh();
      assert.deepEqual(
        replica.all().map((q) => q.maxBytes),
        [maxBytes],
      );
    }
    await cli.remove('localhost/team');
    await replica.mirror.refresh();
    assert.deepEqual(replica.all(), []);
  });
});
