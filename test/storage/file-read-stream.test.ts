/**
 * The filesystem backend's read stream: ranges, and buffer recycling for a reader
 * that writes every chunk on to a sink which takes its time (as a socket does). A
 * buffer refilled too early would change bytes the sink has not written out yet.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FileReadStream, READ_CHUNK } from '../../src/storage/file-read-stream.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Hashes each chunk only when its (delayed) write completes, like a socket sending it later. */
function lateSink(): { sink: Writable; digest: () => string; arrayBuffers: Set<ArrayBufferLike> } {
  const hash = createHash('sha256');
  const arrayBuffers = new Set<ArrayBufferLike>();
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      arrayBuffers.add(chunk.buffer);
      setTimeout(() => {
        hash.update(chunk);
        callback();
      }, 1);
    },
  });
  return { sink, digest: () => hash.digest('hex'), arrayBuffers };
}

describe('file read stream', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(12 * READ_CHUNK + 12345);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'acihost-read-'));
    file = join(dir, 'blob');
    await writeFile(file, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads a whole file and byte ranges', async () => {
    for (const [start, end] of [
      [undefined, undefined],
      [0, 0],
      [READ_CHUNK - 1, READ_CHUNK + 1],
      [5 * READ_CHUNK + 7, data.length - 1],
    ] as const) {
      const chunks: Buffer[] = [];
      await pipeline(new FileReadStream(await open(file, 'r'), start, end), async (source: AsyncIterable<Buffer>) => {
        for await (const c of source) chunks.push(Buffer.from(c));
      });
      assert.equal(
        sha256(Buffer.concat(chunks)),
        sha256(data.subarray(start ?? 0, end === undefined ? undefined : end + 1)),
        `${start}-${end}`,
      );
    }
  });

  it('refills only buffers the sink has finished with, and so allocates a handful for any size', async () => {
    const { sink, digest, arrayBuffers } = lateSink();
    const stream = new FileReadStream(await open(file, 'r'));
    stream.enableRecycling(sink);
    await pipeline(stream, sink);
    assert.equal(digest(), sha256(data));
    assert.ok(arrayBuffers.size <= 6, `${arrayBuffers.size} buffers for ${data.length} bytes`);
  });

  it('without recycling, gives every chunk a buffer of its own', async () => {
    const { sink, digest, arrayBuffers } = lateSink();
    await pipeline(new FileReadStream(await open(file, 'r')), sink);
    assert.equal(digest(), sha256(data));
    assert.equal(arrayBuffers.size, 13);
  });
});
