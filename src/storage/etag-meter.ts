import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Counts MD5s the way S3 composes ETags: one MD5 for a single PutObject, or the
 * MD5 of the parts' MD5s plus "-N" for a multipart upload of fixed-size parts.
 * s3-multipart.ts cuts parts at exactly `partSize` bytes, so the expected ETag can be
 * computed while the bytes stream past, and compared with what the store answers.
 */
export class EtagMeter extends Transform {
  private readonly partSize: number;
  private part = createHash('md5');
  private partBytes = 0;
  private readonly digests: Buffer[] = [];

  constructor(partSize: number) {
    super();
    this.partSize = partSize;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    for (let offset = 0; offset < chunk.length;) {
      const take = Math.min(chunk.length - offset, this.partSize - this.partBytes);
      this.part.update(chunk.subarray(offset, offset + take));
      this.partBytes += take;
      offset += take;
      if (this.partBytes === this.partSize) this.closePart();
    }
    callback(null, chunk);
  }

  private closePart(): void {
    this.digests.push(this.part.digest());
    this.part = createHash('md5');
    this.partBytes = 0;
  }

  expected(): string {
    if (this.partBytes > 0 || this.digests.length === 0) this.closePart();
    if (this.digests.length === 1) return this.digests[0]!.toString('hex');
    return `${createHash('md5').update(Buffer.concat(this.digests)).digest('hex')}-${this.digests.length}`;
  }
}
