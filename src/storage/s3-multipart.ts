/**
 * Streams a body of unknown length into an S3 object through a few part buffers
 * that are reused, as lib-storage's Upload does but without allocating each part
 * anew: lib-storage concatenates every part into a fresh buffer, and those dead
 * buffers made V8 run full collections every few parts and raised the resident
 * set of a large push well above the bound it keeps with reused buffers
 * (docs/benchmarks.md#pushes).
 *
 * A body shorter than one part is stored with one PutObject; a longer one as a
 * multipart upload with `queueSize` parts in flight, aborted on any failure.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

export interface StreamUploadOptions {
  bucket: string;
  key: string;
  partSize: number;
  /** Parts uploading at once; one more buffer fills meanwhile. */
  queueSize: number;
}

interface CompletedPart {
  PartNumber: number;
  ETag: string | undefined;
}

/** Uploads `body`; resolves with the ETag the store answered (possibly empty for multipart on Ceph RGW). */
export async function uploadStream(client: S3Client, body: AsyncIterable<Buffer>, opts: StreamUploadOptions): Promise<string | undefined> {
  const upload = new PartUploader(client, opts);
  try {
    for await (const chunk of body) await upload.add(chunk);
    return await upload.finish();
  } catch (e) {
    await upload.abort();
    throw e;
  }
}

class PartUploader {
  readonly #client: S3Client;
  readonly #opts: StreamUploadOptions;
  readonly #spare: Buffer[] = [];
  #buffers = 0;
  #current: Buffer | undefined;
  #filled = 0;
  #uploadId: string | undefined;
  #nextPart = 1;
  readonly #parts: CompletedPart[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;

  constructor(client: S3Client, opts: StreamUploadOptions) {
    this.#client = client;
    this.#opts = opts;
  }

  /**
   * Copies a chunk into the part being filled. A full part is sent only once more bytes
   * follow it, so a body of exactly one part is one PutObject, whose ETag is the plain
   * MD5 that EtagMeter expects (a one-part multipart upload's would end in "-1").
   */
  async add(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length;) {
      if (this.#filled === this.#opts.partSize) await this.#sendCurrent();
      this.#current ??= await this.#takeBuffer();
      const copied = chunk.copy(this.#current, this.#filled, offset);
      offset += copied;
      this.#filled += copied;
    }
  }

  async finish(): Promise<string | undefined> {
    if (this.#uploadId === undefined) {
      // One part or less: a plain PutObject (an empty body included).
      const body = this.#current ? this.#current.subarray(0, this.#filled) : Buffer.alloc(0);
      const res = await this.#client.send(
        new PutObjectCommand({ Bucket: this.#opts.bucket, Key: this.#opts.key, Body: body, ContentLength: body.length }),
      );
      return res.ETag;
    }
    if (this.#filled > 0) await this.#sendCurrent();
    await this.#settle();
    const parts = [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber);
    const res = await this.#client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.#opts.bucket,
        Key: this.#opts.key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    return res.ETag;
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    if (this.#uploadId === undefined) return;
    await this.#client
      .send(new AbortMultipartUploadCommand({ Bucket: this.#opts.bucket, Key: this.#opts.key, UploadId: this.#uploadId }))
      .catch(() => undefined); // the sweep removes what an abort could not (abortStaleUploads)
  }

  /** A free part buffer: a spare one, a new one while fewer than queueSize + 1 exist, else the next to come back. */
  async #takeBuffer(): Promise<Buffer> {
    while (this.#spare.length === 0 && this.#buffers > this.#opts.queueSize) await this.#oneSettled();
    const spare = this.#spare.pop();
    if (spare) return spare;
    this.#buffers++;
    return Buffer.allocUnsafeSlow(this.#opts.partSize);
  }

  async #sendCurrent(): Promise<void> {
    const buffer = this.#current!;
    const length = this.#filled;
    this.#current = undefined;
    this.#filled = 0;
    this.#uploadId ??= (
      await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#opts.bucket, Key: this.#opts.key }))
    ).UploadId;
    const PartNumber = this.#nextPart++;
    const sending = this.#client
      .send(
        new UploadPartCommand({
          Bucket: this.#opts.bucket,
          Key: this.#opts.key,
          UploadId: this.#uploadId,
          PartNumber,
          Body: buffer.subarray(0, length),
          ContentLength: length,
        }),
      )
      .then(
        (res) => void this.#parts.push({ PartNumber, ETag: res.ETag }),
        (e: unknown) => void (this.#failure ??= e),
      )
      // Only once the request is over is the buffer free again.
      .finally(() => {
        this.#spare.push(buffer);
        this.#inFlight.delete(sending);
      });
    this.#inFlight.add(sending);
    if (this.#failure) throw this.#failure;
  }

  async #oneSettled(): Promise<void> {
    await Promise.race(this.#inFlight);
    if (this.#failure) throw this.#failure;
  }

  async #settle(): Promise<void> {
    await Promise.all(this.#inFlight);
    if (this.#failure) throw this.#failure;
  }
}
