/**
 * The storage contract (src/storage/storage.ts) as tests. Every backend and
 * wrapper runs this suite; `make` returns a fresh, empty store and a way to list
 * everything it holds from outside the contract (files on disk, the bucket).
 * After each test the store must hold exactly the objects that test says it
 * leaves: no scratch, no partial upload, no stray object anywhere; then close()
 * must resolve.
 */
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyExistsError, KeyNotFoundError, type ObjectInfo, type Storage } from '../../src/storage/storage.ts';

export interface Subject {
  storage: Storage;
  /** Every object the store holds, in key order, found without the contract; a partial upload as `KEY (partial upload)`. */
  everything(): Promise<string[]>;
  /** Starts an upload the store keeps invisible until it completes (S3 multipart), for abortStaleUploads. */
  partialUpload?(key: string): Promise<void>;
  /** Removes what the store left outside itself (its directory, its objects in a shared bucket); called after close. */
  cleanup(): Promise<void>;
}

export interface Differences {
  /**
   * A promoted object is known by its size only: read refuses it and get answers null
   * (DryRunStorage, which drops image bytes a rehearsal never reads back).
   */
  promotedBytesDropped?: boolean;
}

const MiB = 1024 * 1024;

async function bytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const text = async (stream: Readable) => (await bytes(stream)).toString();

async function listed(storage: Storage, prefix: string, startAfter?: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of storage.list(prefix, startAfter === undefined ? undefined : { startAfter })) out.push(o);
  return out;
}

const keys = async (storage: Storage, prefix: string, startAfter?: string) => (await listed(storage, prefix, startAfter)).map((o) => o.key);

/** A readable that sends `head` and then fails, as a client that goes away mid-upload. */
function failingBody(head: Buffer): { body: Readable; fail(): void } {
  const body = new Readable({ read() {} });
  // As on a request body, something listens besides the store: its failure is the store's to report, not a crash.
  body.on('error', () => undefined);
  body.push(head);
  return { body, fail: () => body.destroy(new Error('client went away')) };
}

/** Within a minute of now: both clocks are this machine's. */
function assertRecent(date: Date, what: string): void {
  assert.ok(date instanceof Date, what);
  assert.ok(Math.abs(date.getTime() - Date.now()) < 60_000, `${what}: ${date.toISOString()}`);
}

export function storageConformance(backend: string, make: () => Promise<Subject>, differences: Differences = {}): void {
  /** Runs `fn` on a fresh store; it returns the keys it leaves there on purpose, and the store must hold exactly those. */
  const contract = (title: string, fn: (s: Storage, subject: Subject) => Promise<string[] | void>) =>
    it(title, async () => {
      const subject = await make();
      try {
        const leaves = (await fn(subject.storage, subject)) ?? [];
        assert.deepEqual(await subject.everything(), [...leaves].sort(), 'the store holds exactly what the test leaves');
      } finally {
        await subject.storage.close();
        await subject.cleanup();
      }
    });

  describe(`storage contract: ${backend}`, () => {
    contract('put takes a Buffer or a stream and answers the stored key, size and time; read, get, stat and list agree', async (s) => {
      const one = await s.put('a/b/one', Buffer.from('hello world'));
      const two = await s.put('a/b/two', Readable.from([Buffer.from('str'), Buffer.from('eam')]));
      assert.deepEqual([one.key, one.size, two.key, two.size], ['a/b/one', 11, 'a/b/two', 6]);
      assertRecent(one.modified, 'put');
      assert.equal(await text(await s.read('a/b/one')), 'hello world');
      assert.equal(await text(await s.read('a/b/two')), 'stream');
      assert.equal((await s.get('a/b/one'))!.toString(), 'hello world');
      assert.equal((await s.get('a/b/two'))!.toString(), 'stream');
      const info = await s.stat('a/b/one');
      assert.deepEqual([info!.key, info!.size], ['a/b/one', 11]);
      assertRecent(info!.modified, 'stat');
      const all = await listed(s, 'a/');
      assert.deepEqual(
        all.map((o) => [o.key, o.size]),
        [
          ['a/b/one', 11],
          ['a/b/two', 6],
        ],
      );
      for (const o of all) assertRecent(o.modified, `list ${o.key}`);
      return ['a/b/one', 'a/b/two'];
    });

    contract('keeps every byte value, an empty object, and a large streamed one exactly', async (s) => {
      const every = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      await s.put('bin/buffer', every);
      await s.put('bin/stream', Readable.from([every.subarray(0, 100), every.subarray(100)]));
      await s.put('bin/empty', Buffer.alloc(0));
      const large = Buffer.alloc(3 * MiB + 123);
      for (let i = 0; i < large.length; i += 4096) large.writeUInt32BE(i, i);
      await s.put(
        'bin/large',
        Readable.from([large.subarray(0, MiB - 1), large.subarray(MiB - 1, 2 * MiB + 5), large.subarray(2 * MiB + 5)]),
      );
      assert.ok((await s.get('bin/buffer'))!.equals(every));
      assert.ok((await bytes(await s.read('bin/stream'))).equals(every));
      const empty = await s.get('bin/empty');
      assert.ok(empty !== null && empty.length === 0, 'an empty object is an empty Buffer, not absent');
      assert.equal((await bytes(await s.read('bin/empty'))).length, 0);
      assert.equal((await s.stat('bin/empty'))!.size, 0);
      assert.ok((await bytes(await s.read('bin/large'))).equals(large));
      assert.deepEqual(
        (await listed(s, 'bin/')).map((o) => [o.key, o.size]),
        [
          ['bin/buffer', 512],
          ['bin/empty', 0],
          ['bin/large', large.length],
          ['bin/stream', 512],
        ],
      );
      return ['bin/buffer', 'bin/empty', 'bin/large', 'bin/stream'];
    });

    contract('read with a range streams exactly those bytes, inclusive, also across large chunk boundaries', async (s) => {
      const data = Buffer.alloc(3 * MiB);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
      await s.put('r/data', data);
      const n = data.length;
      for (const [start, end] of [
        [0, 0],
        [0, 9],
        [n - 1, n - 1],
        [n - 10, n - 1],
        [MiB - 3, MiB + 2],
        [MiB, 2 * MiB - 1],
        [5, 2 * MiB + 17],
        [0, n - 1],
      ] as const) {
        assert.ok((await bytes(await s.read('r/data', { start, end }))).equals(data.subarray(start, end + 1)), `${start}-${end}`);
      }
      return ['r/data'];
    });

    contract(
      'answers absence with null from get and stat and KeyNotFoundError from read, also for keys that only prefix others',
      async (s) => {
        await s.put('p/q/r', Buffer.from('x'));
        await s.put('gone', Buffer.from('x'));
        await s.delete('gone');
        // No object is at p, p/q or p/q/r/s: each is absent, whatever a backend keeps for the keys around them.
        for (const key of ['nope/x', 'gone', 'p', 'p/q', 'p/q/r/s', 'p/q/rr']) {
          assert.equal(await s.get(key).catch((e: Error) => e.name), null, `get ${key}`);
          assert.equal(await s.stat(key).catch((e: Error) => e.name), null, `stat ${key}`);
          await assert.rejects(s.read(key), KeyNotFoundError, `read ${key}`);
          await assert.rejects(s.read(key, { start: 0, end: 0 }), KeyNotFoundError, `read ${key} by range`);
        }
        return ['p/q/r'];
      },
    );

    contract('a plain put replaces whole; a create-only put refuses an existing key and creates an absent one', async (s) => {
      await s.put('k/v', Buffer.from('first, longer'));
      await s.put('k/v', Buffer.from('2'));
      assert.equal((await s.get('k/v'))!.toString(), '2');
      assert.equal((await s.stat('k/v'))!.size, 1);
      await assert.rejects(s.put('k/v', Buffer.from('3'), { ifAbsent: true }), KeyExistsError);
      assert.equal((await s.get('k/v'))!.toString(), '2');
      const created = await s.put('k/new', Buffer.from('new'), { ifAbsent: true });
      assert.deepEqual([created.key, created.size], ['k/new', 3]);
      await s.delete('k/v');
      await s.put('k/v', Buffer.from('again'), { ifAbsent: true });
      assert.equal((await s.get('k/v'))!.toString(), 'again');
      await s.put('k/opts', Buffer.from('o'), {});
      await s.put('k/opts', Buffer.from('p'), { ifAbsent: false });
      assert.equal((await s.get('k/opts'))!.toString(), 'p');
      assert.deepEqual(await keys(s, 'k/'), ['k/new', 'k/opts', 'k/v']);
      return ['k/new', 'k/opts', 'k/v'];
    });

    contract('lets exactly one of 50 racing create-only puts win, and keeps its bytes', async (s) => {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => s.put('race/key', Buffer.from(`writer ${i}`), { ifAbsent: true })),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `winners: ${won.join(', ')}`);
      assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof KeyExistsError));
      assert.equal((await s.get('race/key'))!.toString(), `writer ${won[0]}`);
      return ['race/key'];
    });

    contract('racing plain puts leave one of them, whole', async (s) => {
      const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc(64 * 1024 + i * 1000, 97 + i));
      await Promise.all(bodies.map((b, i) => s.put('race/plain', i % 2 ? Readable.from([b]) : b)));
      const stored = (await s.get('race/plain'))!;
      assert.ok(
        bodies.some((b) => b.equals(stored)),
        `a mix of ${stored.length} bytes`,
      );
      assert.equal((await s.stat('race/plain'))!.size, stored.length);
      return ['race/plain'];
    });

    contract('a reader that opened an object before it was replaced reads one version whole', async (s) => {
      const [a, b] = [Buffer.alloc(2 * MiB, 'a'), Buffer.alloc(2 * MiB + 1, 'b')];
      await s.put('swap/obj', a);
      const reading = await s.read('swap/obj');
      await s.put('swap/obj', b);
      const seen = await bytes(reading);
      assert.ok(seen.equals(a) || seen.equals(b), `${seen.length} bytes, neither version`);
      assert.ok((await s.get('swap/obj'))!.equals(b));
      return ['swap/obj'];
    });

    contract('a body that fails midway, or was destroyed before, stores nothing and leaves no scratch', async (s) => {
      const midway = failingBody(Buffer.alloc(64 * 1024, 1));
      const put = s.put('half/written', midway.body);
      setTimeout(midway.fail, 20);
      await assert.rejects(put, /client went away/);
      assert.equal(await s.stat('half/written'), null);
      const dead = failingBody(Buffer.alloc(10));
      dead.fail();
      await assert.rejects(s.put('half/dead', dead.body));
      assert.equal(await s.stat('half/dead'), null);
      assert.deepEqual(await keys(s, 'half/'), []);
    });

    contract('a failed replace leaves the object it would have replaced', async (s) => {
      await s.put('keep/me', Buffer.from('original'));
      const failing = failingBody(Buffer.alloc(64 * 1024, 2));
      const put = s.put('keep/me', failing.body);
      setTimeout(failing.fail, 20);
      await assert.rejects(put, /client went away/);
      assert.equal((await s.get('keep/me'))!.toString(), 'original');
      return ['keep/me'];
    });

    contract('promote moves a staged object to a new key and removes the staged one', async (s) => {
      await s.put('tmp/uploads/x', Buffer.from('image bytes'));
      await s.promote('tmp/uploads/x', 'blobs/deep/er/x');
      assert.equal(await s.stat('tmp/uploads/x'), null);
      assert.deepEqual(await keys(s, 'tmp/'), []);
      assert.equal((await s.stat('blobs/deep/er/x'))!.size, 11);
      assert.deepEqual(await keys(s, 'blobs/'), ['blobs/deep/er/x']);
      if (differences.promotedBytesDropped) {
        await assert.rejects(s.read('blobs/deep/er/x'), /keeps no image bytes/);
        assert.equal(await s.get('blobs/deep/er/x'), null);
      } else {
        assert.equal((await s.get('blobs/deep/er/x'))!.toString(), 'image bytes');
        assert.equal(await text(await s.read('blobs/deep/er/x', { start: 6, end: 10 })), 'bytes');
      }
      return ['blobs/deep/er/x'];
    });

    contract(
      'promote refuses an existing target with KeyExistsError and a missing source with KeyNotFoundError, changing nothing',
      async (s) => {
        await s.put('blobs/taken', Buffer.from('published'));
        await s.put('tmp/uploads/y', Buffer.from('other'));
        await assert.rejects(s.promote('tmp/uploads/y', 'blobs/taken'), KeyExistsError);
        assert.equal((await s.get('blobs/taken'))!.toString(), 'published');
        assert.equal((await s.get('tmp/uploads/y'))!.toString(), 'other', 'the staged object stays for its owner to remove');
        await assert.rejects(s.promote('tmp/uploads/none', 'blobs/fresh'), KeyNotFoundError);
        assert.equal(await s.stat('blobs/fresh'), null);
        return ['blobs/taken', 'tmp/uploads/y'];
      },
    );

    contract('delete removes that key only, is idempotent, and the key can be written again', async (s) => {
      for (const k of ['d/e/x', 'd/e/y', 'd/e-f', 'd/ef']) await s.put(k, Buffer.from(k));
      await s.delete('d/e/x');
      await s.delete('d/e/x');
      await s.delete('never/was/here');
      assert.equal(await s.stat('d/e/x'), null);
      assert.deepEqual(await keys(s, 'd/'), ['d/e-f', 'd/e/y', 'd/ef']);
      await s.delete('d/e/y');
      // Its "directory" is gone in a backend that has them; the key must still be writable.
      await s.put('d/e/x', Buffer.from('back'));
      assert.equal((await s.get('d/e/x'))!.toString(), 'back');
      // Keys that only prefix others hold no object, and deleting them is deleting nothing.
      await s.delete('d/e');
      await s.delete('d');
      assert.deepEqual(await keys(s, 'd/'), ['d/e-f', 'd/e/x', 'd/ef']);
      return ['d/e-f', 'd/e/x', 'd/ef'];
    });

    contract('list yields every key that starts with the prefix, in key order, not segment by segment', async (s) => {
      const all = ['images/b/x', 'images/a/y', 'images/a-b/z', 'images/ab', 'images/abc', 'keys/k', 'imagesx/no'];
      const symbols = ['s/a~b', 's/a_b', 's/a0', 's/a/b', 's/a.b', 's/a-b', 's/a!'];
      for (const k of [...all, ...symbols]) await s.put(k, Buffer.from(k));
      assert.deepEqual(await keys(s, 'images/'), ['images/a-b/z', 'images/a/y', 'images/ab', 'images/abc', 'images/b/x']);
      assert.deepEqual(await keys(s, 'images/a/'), ['images/a/y']);
      assert.deepEqual(await keys(s, 'images/a'), ['images/a-b/z', 'images/a/y', 'images/ab', 'images/abc']);
      assert.deepEqual(await keys(s, 'images/ab'), ['images/ab', 'images/abc'], 'a prefix that is itself a key lists it');
      assert.deepEqual(await keys(s, 'images'), ['images/a-b/z', 'images/a/y', 'images/ab', 'images/abc', 'images/b/x', 'imagesx/no']);
      assert.deepEqual(await keys(s, 's/'), ['s/a!', 's/a-b', 's/a.b', 's/a/b', 's/a0', 's/a_b', 's/a~b']);
      assert.deepEqual(await keys(s, 'nothing/'), []);
      assert.deepEqual(await keys(s, 'images/b/x/'), []);
      return [...all, ...symbols];
    });

    contract('list with startAfter yields only the keys after it, never it, wherever it falls', async (s) => {
      // Sorted: '-' < '.' < '/' < '0' < 'b'.
      const stored = ['j/a-b', 'j/a.c', 'j/a/b', 'j/a/c', 'j/a0', 'j/ab', 'j/b'];
      for (const k of stored) await s.put(k, Buffer.from(k));
      const after = (startAfter: string, prefix = 'j/') => keys(s, prefix, startAfter);
      assert.deepEqual(await after('j/a-b'), stored.slice(1), 'a stored key is excluded');
      assert.deepEqual(await after('j/a.c'), stored.slice(2));
      assert.deepEqual(await after('j/a/b'), stored.slice(3));
      assert.deepEqual(await after('j/a/'), stored.slice(2), 'a key that is not stored');
      assert.deepEqual(await after('j/a'), stored, 'a key that only prefixes others');
      assert.deepEqual(await after('j/a.'), stored.slice(1));
      assert.deepEqual(await after('j/aa'), ['j/ab', 'j/b']);
      assert.deepEqual(await after('j/b'), [], 'after the last key');
      assert.deepEqual(await after('j/zzz'), []);
      assert.deepEqual(await after('a'), stored, 'before the prefix');
      assert.deepEqual(await after('j/'), stored, 'the prefix itself');
      assert.deepEqual(await after('j/a', 'j/a/'), ['j/a/b', 'j/a/c'], 'before a narrower prefix');
      assert.deepEqual(await after('k', 'j/'), [], 'past the prefix');
      assert.deepEqual(await after(''), stored);
      return stored;
    });

    contract('list with startAfter resumes a journal as the change journal polls it', async (s) => {
      const entry = (ms: number, random: string) => `journal/${String(ms).padStart(13, '0')}-${random}.json`;
      const stored = [entry(999, 'zzz'), entry(1000, 'abc'), entry(1000, 'abd'), entry(1001, '000'), entry(10_000, 'a')];
      for (const k of stored) await s.put(k, Buffer.from('{}'), { ifAbsent: true });
      assert.deepEqual(await keys(s, 'journal/', entry(1000, '')), stored.slice(1));
      assert.deepEqual(await keys(s, 'journal/', entry(1000, 'abc')), stored.slice(2));
      assert.deepEqual(await keys(s, 'journal/', entry(1001, '')), stored.slice(3));
      assert.deepEqual(await keys(s, 'journal/', entry(10_001, '')), []);
      return stored;
    });

    contract('list and startAfter over many keys, past any page of a backend that pages', async (s) => {
      const stored = Array.from({ length: 11 }, (_, i) => `many/${String(i).padStart(3, '0')}`);
      await Promise.all(stored.map((k) => s.put(k, Buffer.from(k))));
      await s.put('man', Buffer.from('outside'));
      await s.put('many0', Buffer.from('outside'));
      assert.deepEqual(await keys(s, 'many/'), stored);
      for (let i = 0; i < stored.length; i++)
        assert.deepEqual(await keys(s, 'many/', stored[i]), stored.slice(i + 1), `after ${stored[i]}`);
      assert.deepEqual(await keys(s, 'man'), ['man', ...stored, 'many0']);
      return [...stored, 'man', 'many0'];
    });

    contract('abortStaleUploads removes partial uploads started before the given time, and no object', async (s, subject) => {
      await s.put('kept/object', Buffer.from('x'));
      await s.put('tmp/uploads/staged', Buffer.from('y'));
      if (subject.partialUpload) await subject.partialUpload('tmp/uploads/partial');
      // Invisible through the contract until it completes.
      assert.equal(await s.stat('tmp/uploads/partial'), null);
      assert.deepEqual(await keys(s, 'tmp/'), ['tmp/uploads/staged']);
      const partial = subject.partialUpload ? ['tmp/uploads/partial (partial upload)'] : [];
      if (!s.abortStaleUploads) return ['kept/object', 'tmp/uploads/staged', ...partial];
      assert.equal(await s.abortStaleUploads(new Date(Date.now() - 600_000)), 0, 'none is that old');
      assert.deepEqual(await subject.everything(), ['kept/object', ...partial, 'tmp/uploads/staged']);
      assert.equal(await s.abortStaleUploads(new Date(Date.now() + 600_000)), partial.length);
      assert.equal(await s.abortStaleUploads(new Date(Date.now() + 600_000)), 0);
      return ['kept/object', 'tmp/uploads/staged'];
    });
  });
}
