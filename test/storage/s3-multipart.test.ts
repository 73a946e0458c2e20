import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { s3Options, uniquePrefix, s3Ready } from '../helpers/s3.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

const PART = 5 * 1024 * 1024;

/** Splits `data` into chunks of an awkward size, so part boundaries fall inside chunks. */
function chunked(data: Buffer, size = 3 * 1024 * 1024 + 7): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

async function readAll(storage: S3Storage, key: string): Promise<Buffer> {
  const back: Buffer[] = [];
  for await (const c of await storage.read(key)) back.push(c as Buffer);
  return Buffer.concat(back);
}

describe('S3 streamed uploads at part boundaries (Ceph RGW)', () => {
  // Each size is stored with put(), which also checks the store's ETag against the one computed while streaming.
  for (const size of [0, 1, PART - 1, PART, PART + 1, 2 * PART, 2 * PART + PART / 2, 4 * PART + 3]) {
    it(`stores and reads back ${size} bytes`, async () => {
      const storage = new S3Storage(s3Options(uniquePrefix('parts')));
      try {
        const data = randomBytes(size);
        const info = await storage.put('blob', Readable.from(chunked(data)));
        assert.equal(info.size, size);
        assert.ok((await readAll(storage, 'blob')).equals(data));
        assert.equal(await storage.abortStaleUploads(new Date(Date.now() + 60_000)), 0, 'no multipart upload left open');
      } finally {
        await storage.close();
      }
    });
  }

  it('a body that fails after three parts stores nothing and leaves no multipart upload behind', async () => {
    const storage = new S3Storage(s3Options(uniquePrefix('parts-fail')));
    try {
      const failure = new Error('client went away');
      async function* body() {
        for (const chunk of chunked(randomBytes(3 * PART + 10))) yield chunk;
        throw failure;
      }
      await assert.rejects(storage.put('blob', Readable.from(body())), (e) => e === failure);
      assert.equal(await storage.stat('blob'), null);
      assert.equal(await storage.abortStaleUploads(new Date(Date.now() + 60_000)), 0, 'the failed upload was aborted');
    } finally {
      await storage.close();
    }
  });
});
