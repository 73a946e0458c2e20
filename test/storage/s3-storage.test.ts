import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { S3_TEST, s3Options, uniquePrefix, s3Ready, s3TestClient } from '../helpers/s3.ts';
import { storageConformance } from './conformance.ts';

// The cluster may still be starting (test/global-setup.ts).
await s3Ready();

/** The bucket as it is, beside the storage under test. */
const bucket = s3TestClient();
after(() => bucket.destroy());

/** Every object and unfinished multipart upload under `prefix`, as keys below it. */
async function underPrefix(prefix: string): Promise<{ objects: string[]; uploads: { key: string; id: string }[] }> {
  const objects: string[] = [];
  let token: string | undefined;
  do {
    const page = await bucket.send(new ListObjectsV2Command({ Bucket: S3_TEST.bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) objects.push(o.Key!.slice(prefix.length));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const listed = await bucket.send(new ListMultipartUploadsCommand({ Bucket: S3_TEST.bucket, Prefix: prefix }));
  const uploads = (listed.Uploads ?? []).map((u) => ({ key: u.Key!.slice(prefix.length), id: u.UploadId! }));
  return { objects, uploads };
}

/**
 * S3Storage asks for RGW's default page of 1000 keys; a page of `maxKeys` makes every
 * listing of the suite cross pages without storing thousands of objects. Counts the pages.
 */
function pagedBy(storage: S3Storage, maxKeys: number): { pages: number } {
  const counter = { pages: 0 };
  const client = (storage as unknown as { client: S3Client }).client;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'ListObjectsV2Command') {
        (args.input as { MaxKeys?: number }).MaxKeys = maxKeys;
        counter.pages++;
      }
      return next(args);
    },
    { step: 'initialize' },
  );
  return counter;
}

storageConformance('S3 on Ceph RGW, checked, 3 keys a page', async () => {
  const prefix = uniquePrefix('conformance');
  const s3 = new S3Storage(s3Options(prefix));
  pagedBy(s3, 3);
  return {
    storage: new CheckedStorage(s3),
    async everything() {
      const { objects, uploads } = await underPrefix(prefix);
      return [...objects, ...uploads.map((u) => `${u.key} (partial upload)`)].sort();
    },
    async partialUpload(key) {
      await bucket.send(new CreateMultipartUploadCommand({ Bucket: S3_TEST.bucket, Key: prefix + key }));
    },
    // The bucket is shared by every S3 test: leave nothing of this one in it.
    async cleanup() {
      const { objects, uploads } = await underPrefix(prefix);
      for (const key of objects) await bucket.send(new DeleteObjectCommand({ Bucket: S3_TEST.bucket, Key: prefix + key }));
      for (const u of uploads) {
        await bucket.send(new AbortMultipartUploadCommand({ Bucket: S3_TEST.bucket, Key: prefix + u.key, UploadId: u.id }));
      }
    },
  };
});

it('S3: the conformance listings really cross pages', async () => {
  const s3 = new S3Storage(s3Options(uniquePrefix('pages')));
  const counter = pagedBy(s3, 3);
  try {
    for (let i = 0; i < 10; i++) await s3.put(`k/${i}`, Buffer.from('x'));
    const listed: string[] = [];
    for await (const o of s3.list('k/', { startAfter: 'k/0' })) listed.push(o.key);
    assert.deepEqual(listed, ['k/1', 'k/2', 'k/3', 'k/4', 'k/5', 'k/6', 'k/7', 'k/8', 'k/9']);
    assert.equal(counter.pages, 3);
    for (let i = 0; i < 10; i++) await s3.delete(`k/${i}`);
  } finally {
    await s3.close();
  }
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
