import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tooLarge } from '../../src/errors.ts';
import { createInspector } from '../../src/aci/inspect.ts';
import { buildAci, buildTar, compress } from '../helpers/aci-builder.ts';
import type { AciCompression } from '../helpers/aci-builder.ts';
import { chunked, decoderChildren, inspect, LIMITS, patchTarHeader, rejectsWith, tick } from './support.ts';

const MiB = 1024 * 1024;

/** The head of a tar whose last entry claims `size` bytes of body, which the caller then supplies. */
async function tarHeadClaiming(size: number): Promise<Buffer> {
  const tar = await buildTar([
    { name: 'manifest', body: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"bomb"}' },
    { name: 'rootfs', type: 'directory' },
    { name: 'rootfs/zeros' },
  ]);
  const patched = patchTarHeader(tar, 'rootfs/zeros', (h) => h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1'));
  return patched.subarray(0, 512 * 4); // manifest header + body, rootfs, zeros header
}

/**
 * A decompression bomb: a few MB that inflate to `size` bytes. Both gzip and xz
 * read concatenated members as one stream, so one compressed 16 MiB block of
 * zeros is simply repeated.
 */
async function bomb(compression: 'gzip' | 'xz', size: number): Promise<Buffer> {
  const block = 16 * MiB;
  const head = compress(await tarHeadClaiming(size), compression);
  const zeros = compress(Buffer.alloc(block), compression);
  return Buffer.concat([head, ...Array.from({ length: size / block }, () => zeros)]);
}

/** Feeds `data` in small chunks, counting how much the inspector pulled before it stopped. */
async function feedCounting(data: Buffer, chunkSize: number) {
  const { sink, result } = createInspector({ ...LIMITS, maxUncompressedBytes: MiB });
  let pulled = 0;
  const source = Readable.from(
    (function* () {
      for (const c of chunked(data, chunkSize)) {
        pulled += c.length;
        yield c;
      }
    })(),
  );
  const fed = pipeline(source, sink);
  const outcome = await Promise.allSettled([fed, result]);
  return { pulled: () => pulled, outcome };
}

/** A megabyte that does not compress, so half an upload is really half an archive. */
const blob = randomBytes(MiB);
const bulkyCache = new Map<AciCompression, Promise<Buffer>>();
const bulky = (compression: AciCompression): Promise<Buffer> => {
  if (!bulkyCache.has(compression)) bulkyCache.set(compression, buildAci({ compression, entries: [{ name: 'rootfs/blob', body: blob }] }));
  return bulkyCache.get(compression)!;
};

describe('the uncompressed size cap', () => {
  test('an image exactly at the cap passes; one byte less refuses it with UNCOMPRESSED_TOO_LARGE (413)', async () => {
    const aci = await buildAci();
    const size = (await inspect(aci)).uncompressedSize;
    await inspect(aci, { maxUncompressedBytes: size });
    await rejectsWith(inspect(aci, { maxUncompressedBytes: size - 1 }), 'UNCOMPRESSED_TOO_LARGE', 'too-large');
  });

  for (const c of ['gzip', 'xz'] as const) {
    test(`a ${c} bomb (7 GiB of zeros) is stopped at the cap, long before its end is read`, async () => {
      const data = await bomb(c, 7 * 1024 * MiB);
      const started = performance.now();
      const { pulled, outcome } = await feedCounting(data, 4096);
      const [fed, result] = outcome;
      assert.equal(result.status, 'rejected');
      assert.equal((result as PromiseRejectedResult).reason.code, 'UNCOMPRESSED_TOO_LARGE');
      assert.equal(fed.status, 'rejected', 'the upload pipeline must stop too');
      assert.ok(pulled() < data.length / 3, `read ${pulled()} of ${data.length} compressed bytes`);
      assert.ok(performance.now() - started < 3000, 'inflating 7 GiB would take longer than this');
      await tick(100);
      assert.deepEqual(decoderChildren(), []);
    });
  }
});

describe('aborted uploads', () => {
  for (const c of ['gzip', 'bzip2', 'xz', 'none'] as const) {
    test(`destroying the sink mid-way (${c}) rejects with UPLOAD_ABORTED and leaves no process`, async () => {
      const aci = await bulky(c);
      const { sink, result } = createInspector(LIMITS);
      sink.write(aci.subarray(0, Math.floor(aci.length / 2)));
      await tick();
      const running = c === 'bzip2' || c === 'xz' ? 1 : 0;
      assert.equal(decoderChildren().length, running, 'decoder processes while the upload runs');
      sink.destroy();
      await rejectsWith(result, 'UPLOAD_ABORTED', 'malformed');
      await tick(100);
      assert.deepEqual(decoderChildren(), []);
    });
  }

  test('a destroy before any byte arrived also rejects', async () => {
    const { sink, result } = createInspector(LIMITS);
    sink.destroy(new Error('socket hang up'));
    const e = await rejectsWith(result, 'UPLOAD_ABORTED');
    assert.equal((e.cause as Error).message, 'socket hang up');
  });

  test("the caller's own AcihostError is passed through", async () => {
    const { sink, result } = createInspector(LIMITS);
    sink.write(await buildAci({ compression: 'xz' }));
    sink.destroy(tooLarge('ACI_TOO_LARGE', 'over the compressed cap'));
    await rejectsWith(result, 'ACI_TOO_LARGE', 'too-large');
    await tick(100);
    assert.deepEqual(decoderChildren(), []);
  });
});

describe('how failures and success reach the caller', () => {
  test('an archive failure destroys the sink with the same error, stopping the upload early', async () => {
    const aci = await buildAci({ compression: 'none', entries: [{ name: '/abs', body: Buffer.alloc(2 * MiB) }] });
    const { sink, result } = createInspector(LIMITS);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (const c of chunked(aci, 4096)) {
          pulled += c.length;
          yield c;
        }
      })(),
    );
    const fed = pipeline(source, sink);
    const [fedError, resultError] = await Promise.all([
      rejectsWith(fed, 'ARCHIVE_PATH_ABSOLUTE'),
      rejectsWith(result, 'ARCHIVE_PATH_ABSOLUTE'),
    ]);
    assert.equal(fedError, resultError);
    assert.ok(sink.destroyed);
    assert.ok(pulled < aci.length / 2, `read ${pulled} of ${aci.length}`);
  });

  test('a caller watching only the sink gets no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { sink } = createInspector(LIMITS);
      await rejectsWith(pipeline(Readable.from([Buffer.from('definitely not an archive'.repeat(20))]), sink), 'ARCHIVE_FORMAT_UNKNOWN');
      await tick(50);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('a caller watching only the result does not crash on the sink error', async () => {
    const { sink, result } = createInspector(LIMITS);
    sink.write(Buffer.alloc(600, 0x42));
    sink.end();
    await rejectsWith(result, 'ARCHIVE_FORMAT_UNKNOWN');
    await tick(50); // an unheard 'error' event would have thrown by now
  });

  test('the sink finishes only after the verdict, so pipeline() resolving means valid', async () => {
    for (const c of ['gzip', 'bzip2', 'xz', 'none'] as const) {
      const { sink, result } = createInspector(LIMITS);
      let settled = false;
      void result.then(() => (settled = true));
      await pipeline(Readable.from(chunked(await bulky(c), 65536)), sink);
      assert.ok(settled, c);
    }
    await tick(100);
    assert.deepEqual(decoderChildren(), []);
  });

  test('a failure after the last byte is reported through pipeline() too', async () => {
    const { sink, result } = createInspector(LIMITS);
    const fed = pipeline(Readable.from([await buildAci({ omit: ['rootfs'] })]), sink);
    await rejectsWith(fed, 'ARCHIVE_ROOTFS_MISSING');
    await rejectsWith(result, 'ARCHIVE_ROOTFS_MISSING');
  });
});
