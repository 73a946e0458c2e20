/**
 * The upload tap (src/registry/publish/upload-tap.ts) passes every byte on unchanged, feeds
 * the same chunks to its side consumers, and reports each chunk's size to the
 * heap policy's counter when asked to (image-first pushes: nothing else counts
 * their upload's bytes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UploadTap } from '../../src/registry/publish/upload-tap.ts';

const counter = () => {
  const seen = { bytes: 0 };
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      seen.bytes += chunk.length;
      done();
    },
  });
  return { seen, sink };
};

describe('upload tap', () => {
  const body = randomBytes(3 * 1024 * 1024 + 17);
  const chunks = () =>
    Readable.from(Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.subarray(i * 65536, (i + 1) * 65536)));

  it('reports the size of every chunk that passes, and passes and feeds every byte', async () => {
    const side = counter();
    const out = counter();
    const reported: number[] = [];
    const tap = new UploadTap([side.sink], 1 << 30, (n) => reported.push(n));
    await pipeline(chunks(), tap, out.sink);
    assert.equal(
      reported.reduce((a, b) => a + b, 0),
      body.length,
    );
    assert.ok(reported.length >= 48, `${reported.length} reports`);
    assert.equal(side.seen.bytes, body.length);
    assert.equal(out.seen.bytes, body.length);
    assert.equal(tap.size, body.length);
    assert.equal(tap.digest(), createHash('sha256').update(body).digest('hex'));
  });
});
