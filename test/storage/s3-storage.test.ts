import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { s3Options, uniquePrefix } from '../helpers/s3.ts';
import { storageConformance } from './conformance.ts';

storageConformance('S3 on Ceph RGW', async () => {
  const storage = new CheckedStorage(new S3Storage(s3Options(uniquePrefix('conformance'))));
  return { storage, cleanup: () => storage.close() };
});

it('S3: streams a multipart upload (3 parts) and reads back the same bytes and ranges', async () => {
  const storage = new S3Storage(s3Options(uniquePrefix('multipart')));
  try {
    const data = randomBytes(12 * 1024 * 1024);
    const chunks = Array.from({ length: 48 }, (_, i) => data.subarray(i * 256 * 1024, (i + 1) * 256 * 1024));
    const info = await storage.put('blobs/big', Readable.from(chunks));
    assert.equal(info.size, data.length);
    const back: Buffer[] = [];
    for await (const c of await storage.read('blobs/big')) back.push(c as Buffer);
    assert.equal(createHash('sha256').update(Buffer.concat(back)).digest('hex'), createHash('sha256').update(data).digest('hex'));
    const range: Buffer[] = [];
    for await (const c of await storage.read('blobs/big', { start: 5 * 1024 * 1024 - 10, end: 5 * 1024 * 1024 + 9 }))
      range.push(c as Buffer);
    assert.ok(Buffer.concat(range).equals(data.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10)));
  } finally {
    await storage.close();
  }
});

it('S3: an unreachable store is a typed 503-kind error, within the timeout', async () => {
  const storage = new S3Storage(s3Options('x/', { endpoint: 'http://127.0.0.1:9', timeoutMs: 500 }));
  const start = Date.now();
  await assert.rejects(storage.get('anything'), (e: unknown) => (e as { kind?: string }).kind === 'unavailable');
  assert.ok(Date.now() - start < 5000);
  await storage.close();
});
