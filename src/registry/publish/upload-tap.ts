import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { tooLarge } from '../../errors.ts';

function whenWritable(sink: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}

/** A cap of an upload's own besides the server's limit (what a quota leaves), and the error past it. */
export interface ByteCap {
  bytes: number;
  refusal: () => Error;
}

/**
 * Passes the upload through unchanged while hashing it, enforcing the size cap and
 * feeding the same chunks to side consumers (archive inspector, signature
 * verifier), so one pass over the bytes does every check. The slowest consumer
 * sets the pace; a failing consumer fails the upload with its own error.
 */
export class UploadTap extends Transform {
  size = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly sinks: Writable[];
  private readonly maxBytes: number;
  private readonly onBytes: ((bytes: number) => void) | undefined;
  private readonly cap: ByteCap | undefined;

  /** `onBytes` hears the size of every chunk that passes (the server frees dead buffers by it). */
  constructor(sinks: Writable[], maxBytes: number, onBytes?: (bytes: number) => void, cap?: ByteCap) {
    super({ highWaterMark: 256 * 1024 });
    this.sinks = sinks;
    this.maxBytes = maxBytes;
    this.onBytes = onBytes;
    this.cap = cap;
    for (const sink of sinks) sink.on('error', (e) => this.destroy(e));
  }

  /** sha256 hex of everything that passed; call once, after the end. */
  digest(): string {
    return this.hash.digest('hex');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(
        tooLarge(
          'ACI_TOO_LARGE',
          `the .aci is larger than this server's limit of ${this.maxBytes} bytes; shrink the image or ask the operator to raise limits.maxCompressedBytes`,
        ),
      );
      return;
    }
    if (this.cap && this.size > this.cap.bytes) {
      callback(this.cap.refusal());
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    const waits = this.sinks.filter((sink) => !sink.write(chunk)).map(whenWritable);
    if (waits.length === 0) callback(null, chunk);
    else Promise.all(waits).then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    for (const sink of this.sinks) sink.end();
    callback();
  }

  // pipeline() destroys every stream once done, while consumers may still be
  // working through the last chunks: only a failure is passed on to them.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error) for (const sink of this.sinks) if (!sink.destroyed) sink.destroy(error);
    callback(error);
  }
}
