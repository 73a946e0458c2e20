/**
 * The S3 mode's reference: one transfer straight to RGW with the AWS SDK, as a
 * child process pinned to the server core (where acihost runs when it does the
 * same transfer). Same client settings as acihost's S3 backend: part size from
 * BENCH_S3_PART_SIZE (acihost's storage.s3.partSizeBytes), no checksum trailers; two parts in
 * flight, one more than acihost keeps (src/storage/s3-storage.ts), so the reference is not held back.
 *
 *   node bench/s3-direct.ts put FILE KEY | get KEY      -> {"bytes":N,"seconds":S}
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client } from './s3-store.ts';

const [op, a, b] = process.argv.slice(2);
const bucket = process.env.ACIHOST_S3_BUCKET!;
const partSize = Number(process.env.BENCH_S3_PART_SIZE);
const client = s3Client();
const started = performance.now();
let bytes = 0;
if (op === 'put') {
  bytes = (await stat(a!)).size;
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: b!, Body: createReadStream(a!, { highWaterMark: 1024 * 1024 }) },
    partSize,
    queueSize: 2,
    leavePartsOnError: false,
  });
  await upload.done();
} else if (op === 'get') {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: a! }));
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  await pipeline(res.Body as Readable, sink);
} else {
  throw new Error('usage: s3-direct.ts put FILE KEY | get KEY');
}
process.stdout.write(JSON.stringify({ bytes, seconds: (performance.now() - started) / 1000 }) + '\n');
client.destroy();
