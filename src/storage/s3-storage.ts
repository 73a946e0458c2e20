import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { PassThrough, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  ListMultipartUploadsCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { isAcihostError, unavailable } from '../errors.ts';
import { EtagMeter } from './etag-meter.ts';
import { uploadStream } from './s3-multipart.ts';
import {
  KeyExistsError,
  KeyNotFoundError,
  type ByteRange,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.ts';

export interface S3Options {
  endpoint: string | null;
  region: string;
  bucket: string;
  /** Key prefix inside the bucket, so several deployments or tests can share one. */
  prefix: string;
  forcePathStyle: boolean;
  caFile: string | null;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  timeoutMs: number;
  partSizeBytes: number;
}

const status = (e: unknown) => (e as S3ServiceException)?.$metadata?.httpStatusCode;
const isMissing = (e: unknown) => status(e) === 404 || (e as Error)?.name === 'NoSuchKey' || (e as Error)?.name === 'NotFound';

/**
 * The S3-compatible backend (proven on Ceph RGW). Create-only writes are
 * PutObject with `If-None-Match: *`, atomic on the store; large bodies stream
 * through a multipart upload of reused part buffers, never held whole in memory; every
 * write is checked against the ETag the store reports. Store failures and
 * timeouts become a typed "unavailable" error (503 at the edge).
 */
export class S3Storage implements Storage {
  private readonly client: S3Client;
  private readonly opts: S3Options;

  constructor(opts: S3Options) {
    this.opts = { ...opts, prefix: opts.prefix && !opts.prefix.endsWith('/') ? `${opts.prefix}/` : opts.prefix };
    const ca = opts.caFile ? readFileSync(opts.caFile) : undefined;
    this.client = new S3Client({
      endpoint: opts.endpoint ?? undefined,
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      credentials:
        opts.accessKeyId && opts.secretAccessKey ? { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey } : undefined,
      // Ceph RGW 16 refuses the SDK's default aws-chunked checksum trailers with 411.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: opts.timeoutMs,
        requestTimeout: opts.timeoutMs,
        httpsAgent: new Agent({ keepAlive: true, maxSockets: 64, ca }),
      }),
    });
  }

  private key(key: string): string {
    return this.opts.prefix + key;
  }

  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if (isMissing(e) || status(e) === 412 || e instanceof KeyExistsError || e instanceof KeyNotFoundError) throw e;
      throw unavailable(
        'STORAGE_UNAVAILABLE',
        `the object store failed to ${what}; try again shortly (the operator can see the cause in the server log)`,
        e,
      );
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const res = await this.call('read an object', () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.opts.bucket,
            Key: this.key(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        ),
      );
      return res.Body as Readable;
    } catch (e) {
      if (isMissing(e)) throw new KeyNotFoundError(key);
      throw e;
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      const body = await this.read(key);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    } catch (e) {
      if (e instanceof KeyNotFoundError) return null;
      throw e;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.call('stat an object', () =>
        this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) })),
      );
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0) };
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    if (Buffer.isBuffer(body)) return this.putBuffer(key, body, options.ifAbsent === true);
    if (options.ifAbsent) throw new Error('create-only puts take a Buffer');
    return this.putStream(key, body);
  }

  private async putBuffer(key: string, body: Buffer, ifAbsent: boolean): Promise<ObjectInfo> {
    try {
      const res = await this.call('store an object', () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.opts.bucket,
            Key: this.key(key),
            Body: body,
            ContentLength: body.length,
            IfNoneMatch: ifAbsent ? '*' : undefined,
          }),
        ),
      );
      await this.checkEtag(key, res.ETag, createHash('md5').update(body).digest('hex'));
    } catch (e) {
      if (status(e) === 412) throw new KeyExistsError(key);
      throw e;
    }
    return { key, size: body.length, modified: new Date() };
  }

  private async putStream(key: string, body: Readable): Promise<ObjectInfo> {
    if (body.destroyed) throw body.errored ?? new Error('the body was aborted before it was stored');
    const meter = new EtagMeter(this.opts.partSizeBytes);
    const counted = new PassThrough();
    let size = 0;
    // The client's own stream failing is the cause to report; anything else is the store's.
    let clientFailure: unknown;
    body.on('error', (e) => {
      clientFailure = e;
      meter.destroy(e);
    });
    meter.on('error', (e) => counted.destroy(e));
    counted.on('error', () => undefined); // the upload reads it and fails (and aborts) with it
    meter.on('data', (c: Buffer) => (size += c.length));
    body.pipe(meter).pipe(counted);
    try {
      const answered = await uploadStream(this.client, counted, {
        bucket: this.opts.bucket,
        key: this.key(key),
        partSize: this.opts.partSizeBytes,
        // One part sending while the next fills: a part fills more slowly than the store takes it,
        // so a second in flight only adds a part's memory (docs/benchmarks.md#pushes).
        queueSize: 1,
      });
      if (clientFailure) throw clientFailure;
      // Ceph RGW answers a completed multipart upload with an empty ETag: ask for it.
      const etag =
        answered ||
        (await this.call('stat an object', () => this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) }))))
          .ETag;
      await this.checkEtag(key, etag, meter.expected());
    } catch (e) {
      if (clientFailure) throw clientFailure;
      if (isAcihostError(e)) throw e;
      throw unavailable('STORAGE_UNAVAILABLE', 'the object store failed to store an upload; try again shortly', e);
    }
    return { key, size, modified: new Date() };
  }

  /** A store can answer 200 and keep other bytes: compare its ETag with ours, and undo on a mismatch. */
  private async checkEtag(key: string, etag: string | undefined, expected: string): Promise<void> {
    if (etag?.replaceAll('"', '') === expected) return;
    await this.delete(key).catch(() => undefined);
    throw unavailable(
      'STORAGE_INTEGRITY',
      `the object store kept other bytes than were sent for ${key} (ETag ${etag}, expected ${expected}); nothing was stored, try again`,
    );
  }

  async promote(from: string, to: string): Promise<void> {
    const source = await this.stat(from);
    if (!source) throw new KeyNotFoundError(from);
    if (await this.stat(to)) throw new KeyExistsError(to);
    await this.call('copy an object', () =>
      this.client.send(
        new CopyObjectCommand({
          Bucket: this.opts.bucket,
          CopySource: `${this.opts.bucket}/${encodeURIComponent(this.key(from)).replaceAll('%2F', '/')}`,
          Key: this.key(to),
        }),
      ),
    );
    const copied = await this.stat(to);
    if (copied?.size !== source.size) {
      await this.delete(to).catch(() => undefined);
      throw unavailable('STORAGE_INTEGRITY', `the object store copied ${copied?.size} of ${source.size} bytes of ${from}; try again`);
    }
    await this.delete(from);
  }

  async delete(key: string): Promise<void> {
    await this.call('delete an object', () => this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.key(key) })));
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.call('list objects', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: this.key(prefix),
            ContinuationToken: token,
            StartAfter: token || !options.startAfter ? undefined : this.key(options.startAfter),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        yield { key: o.Key!.slice(this.opts.prefix.length), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async abortStaleUploads(before: Date): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    do {
      const page = await this.call('list multipart uploads', () =>
        this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.opts.bucket,
            Prefix: this.opts.prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadMarker,
          }),
        ),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Initiated || u.Initiated >= before) continue;
        await this.call('abort a multipart upload', () =>
          this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId })),
        );
        aborted++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return aborted;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
