/**
 * The index remembers, for a second, names it looked for in storage and did not
 * find; the names come from request paths, so what it remembers is bounded in
 * bytes, and a name asked for again and again stays remembered through a flood
 * of others.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../../src/registry/catalog/catalog.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import type { ListOptions, ObjectInfo } from '../../src/storage/storage.ts';
import { tempDir } from '../helpers/temp-dir.ts';

/** A filesystem storage that counts its listings by prefix. */
class CountingStorage extends FsStorage {
  readonly listed = new Map<string, number>();
  override list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    this.listed.set(prefix, (this.listed.get(prefix) ?? 0) + 1);
    return super.list(prefix, options);
  }
}

// About 3 KiB a name, in segments a filesystem accepts.
const longName = (i: number) => `localhost/x${i}` + `/${'a'.repeat(200)}`.repeat(15);

describe('names not found in storage', () => {
  it('are remembered within a byte bound, while a name asked for often stays remembered', async () => {
    const storage = new CountingStorage(await tempDir('acihost-misses-'));
    const catalog = new Catalog(storage);
    const hot = 'localhost/hot/unknown';
    const hotListings = () => [...storage.listed].filter(([prefix]) => prefix.includes('/hot/unknown/')).reduce((n, [, c]) => n + c, 0);
    const started = Date.now();
    await catalog.ensureName(hot);
    for (let i = 0; i < 3000; i++) {
      await catalog.ensureName(longName(i));
      if (i % 100 === 0) await catalog.ensureName(hot);
    }
    const seconds = (Date.now() - started) / 1000;
    assert.equal(storage.listed.size, 3001, 'every distinct name was looked for');
    assert.ok(catalog.missUse.bytes <= 2 * 1024 * 1024, `${catalog.missUse.bytes} bytes remembered`);
    assert.ok(catalog.missUse.size < 1000, `${catalog.missUse.size} names remembered`);
    // Once, and again only after each second that passed.
    assert.ok(hotListings() <= Math.ceil(seconds) + 1, `${hotListings()} listings of the hot name in ${seconds.toFixed(1)} s`);
  });
});
