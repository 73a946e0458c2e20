/**
 * A Storage decorator that times every operation and counts failures for the
 * metrics endpoint. It changes no behaviour: results and errors pass through.
 * A KeyNotFoundError from read() is an expected miss, not a failure.
 */
import type { Readable } from 'node:stream';
import { KeyNotFoundError, type ByteRange, type ObjectInfo, type PutOptions, type Storage } from './storage.ts';

/** Where the timings and failures go (the server's metrics). */
export interface StorageMeter {
  /** Starts timing one operation; the function returned ends it. */
  start(operation: string): () => void;
  failed(operation: string): void;
}

export class MeteredStorage implements Storage {
  private readonly inner: Storage;
  private readonly meter: StorageMeter;

  constructor(inner: Storage, meter: StorageMeter) {
    this.inner = inner;
    this.meter = meter;
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.timed('read', () => this.inner.read(key, range));
  }
  get(key: string): Promise<Buffer | null> {
    return this.timed('get', () => this.inner.get(key));
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.timed('stat', () => this.inner.stat(key));
  }
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<ObjectInfo> {
    return this.timed('put', () => this.inner.put(key, body, options));
  }
  promote(from: string, to: string): Promise<void> {
    return this.timed('promote', () => this.inner.promote(from, to));
  }
  delete(key: string): Promise<void> {
    return this.timed('delete', () => this.inner.delete(key));
  }
  async *list(...args: Parameters<Storage['list']>): AsyncIterable<ObjectInfo> {
    const end = this.meter.start('list');
    try {
      yield* this.inner.list(...args);
    } catch (e) {
      this.meter.failed('list');
      throw e;
    } finally {
      end();
    }
  }
  async abortStaleUploads(before: Date): Promise<number> {
    return this.timed('abortStaleUploads', async () => (await this.inner.abortStaleUploads?.(before)) ?? 0);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private async timed<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const end = this.meter.start(operation);
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof KeyNotFoundError)) this.meter.failed(operation);
      throw e;
    } finally {
      end();
    }
  }
}
