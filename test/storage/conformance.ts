/**
 * The storage contract (src/storage/storage.ts) as tests. Every backend runs this
 * suite unchanged; `make` returns a fresh, empty storage and a way to list what
 * it holds outside the contract (to prove that nothing partial is left).
 */
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyExistsError, KeyNotFoundError, type Storage } from '../../src/storage/storage.ts';

export interface Subject {
  storage: Storage;
  cleanup(): Promise<void>;
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

export function storageConformance(backend: string, make: () => Promise<Subject>): void {
  describe(`storage contract: ${backend}`, () => {
    const withStorage = (fn: (s: Storage) => Promise<void>) => async () => {
      const subject = await make();
      try {
        await fn(subject.storage);
      } finally {
        await subject.cleanup();
      }
    };

    it(
      'puts a buffer or a stream and reads it back whole, by range, and by stat',
      withStorage(async (s) => {
        await s.put('a/b/one', Buffer.from('hello world'));
        await s.put('a/b/two', Readable.from([Buffer.from('str'), Buffer.from('eam')]));
        assert.equal(await text(await s.read('a/b/one')), 'hello world');
        assert.equal(await text(await s.read('a/b/one', { start: 6, end: 10 })), 'world');
        assert.equal(await text(await s.read('a/b/two')), 'stream');
        assert.equal((await s.get('a/b/two'))!.toString(), 'stream');
        const info = await s.stat('a/b/one');
        assert.equal(info!.size, 11);
        assert.ok(info!.modified instanceof Date);
      }),
    );

    it(
      'answers absence with null from get/stat and KeyNotFoundError from read',
      withStorage(async (s) => {
        assert.equal(await s.get('nope/x'), null);
        assert.equal(await s.stat('nope/x'), null);
        await assert.rejects(s.read('nope/x'), KeyNotFoundError);
      }),
    );

    it(
      'replaces on a plain put and refuses on a create-only put',
      withStorage(async (s) => {
        await s.put('k', Buffer.from('1'));
        await s.put('k', Buffer.from('2'));
        assert.equal((await s.get('k'))!.toString(), '2');
        await assert.rejects(s.put('k', Buffer.from('3'), { ifAbsent: true }), KeyExistsError);
        assert.equal((await s.get('k'))!.toString(), '2');
      }),
    );

    it(
      'lets exactly one of 50 racing create-only puts win',
      withStorage(async (s) => {
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) => s.put('race/key', Buffer.from(`writer ${i}`), { ifAbsent: true })),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof KeyExistsError));
        const winner = results.findIndex((r) => r.status === 'fulfilled');
        assert.equal((await s.get('race/key'))!.toString(), `writer ${winner}`);
      }),
    );

    it(
      'leaves nothing at the key, and no scratch, when the body fails midway',
      withStorage(async (s) => {
        const failing = new Readable({ read() {} });
        failing.push(Buffer.alloc(1024, 1));
        const put = s.put('half/written', failing);
        setTimeout(() => failing.destroy(new Error('client went away')), 20);
        await assert.rejects(put, /client went away/);
        assert.equal(await s.stat('half/written'), null);
        assert.deepEqual(
          (await keys(s, 'tmp/')).filter((k) => !k.startsWith('tmp/uploads/')),
          [],
        );
      }),
    );

    it(
      'promotes a staged object to a new key, create-only',
      withStorage(async (s) => {
        await s.put('tmp/uploads/x', Buffer.from('image'));
        await s.promote('tmp/uploads/x', 'blobs/x');
        assert.equal(await s.stat('tmp/uploads/x'), null);
        assert.equal((await s.get('blobs/x'))!.toString(), 'image');
        await s.put('tmp/uploads/y', Buffer.from('other'));
        await assert.rejects(s.promote('tmp/uploads/y', 'blobs/x'), KeyExistsError);
        assert.equal((await s.get('blobs/x'))!.toString(), 'image');
      }),
    );

    it(
      'deletes idempotently',
      withStorage(async (s) => {
        await s.put('d/e/f', Buffer.from('x'));
        await s.delete('d/e/f');
        await s.delete('d/e/f');
        assert.equal(await s.stat('d/e/f'), null);
        assert.deepEqual(await keys(s, 'd/'), []);
      }),
    );

    it(
      'lists by prefix in key order, segment by segment',
      withStorage(async (s) => {
        for (const k of ['images/b/x', 'images/a/y', 'images/a-b/z', 'images/ab', 'keys/k', 'imagesx/no']) await s.put(k, Buffer.from(k));
        assert.deepEqual(await keys(s, 'images/'), ['images/a-b/z', 'images/a/y', 'images/ab', 'images/b/x']);
        assert.deepEqual(await keys(s, 'images/a/'), ['images/a/y']);
        assert.deepEqual(await keys(s, 'images/a'), ['images/a-b/z', 'images/a/y', 'images/ab']);
        assert.deepEqual(await keys(s, 'nothing/'), []);
      }),
    );
  });
}
