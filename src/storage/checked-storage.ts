import type { Readable } from 'node:stream';
import { insufficientStorage } from '../errors.ts';
import type { ByteRange, ListOptions, ObjectInfo, PutOptions, Storage } from './storage.ts';

const VALID_KEY = /^(?!\/)(?!.*\/\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+(?<!\/)$/;

function checkKey(key: string): void {
  if (!VALID_KEY.test(key)) throw new Error(`storage key refused: ${JSON.stringify(key)}`);
}

function labelled<T>(op: Promise<T>): Promise<T> {
  return op.catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOSPC' || (e as NodeJS.ErrnoException)?.code === 'EDQUOT') {
      throw insufficientStorage(
        'STORAGE_FULL',
        'the storage volume is full; nothing was stored. Free space or grow the volume, then push again',
        e,
      );
    }
    throw e;
  });
}

/**
 * One wrapper around every backend: refuses keys that could escape the layout
 * (a bug, never user input, reaches here) and turns a full disk into a typed error.
 */
export class CheckedStorage implements Storage {
  private readonly inner: Storage;
  constructor(inner: Storage) {
    this.inner = inner;
  }
  async read(key: string, range?: ByteRange): Promise<Readable> {
    checkKey(key);
    return await labelled(this.inner.read(key, range));
  }
  async get(key: string): Promise<Buffer | null> {
    checkKey(key);
    return await labelled(this.inner.get(key));
  }
  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    return await labelled(this.inner.stat(key));
  }
  async put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<ObjectInfo> {
    checkKey(key);
    return await labelled(this.inner.put(key, body, options));
  }
  async promote(from: string, to: string): Promise<void> {
    checkKey(from);
    checkKey(to);
    return await labelled(this.inner.promote(from, to));
  }
  async delete(key: string): Promise<void> {
    checkKey(key);
    return await labelled(this.inner.delete(key));
  }
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }
  async abortStaleUploads(before: Date): Promise<number> {
    return (await this.inner.abortStaleUploads?.(before)) ?? 0;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
