import type { Readable } from 'node:stream';
import { insufficientStorage, InternalError } from '../errors.ts';
import type { ByteRange, ListOptions, ObjectInfo, PutOptions, Storage } from './storage.ts';

const VALID_KEY = /^(?!\/)(?!.*\/\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+(?<!\/)$/;

const refused = (what: string, key: string) =>
  new InternalError('STORAGE_KEY_REFUSED', `storage ${what} refused: ${JSON.stringify(key.slice(0, 2048))}`);

function checkKey(key: string): void {
  if (!VALID_KEY.test(key)) throw refused('key', key);
}

/** A listing prefix follows the key rules, with a trailing slash allowed. */
function checkedList(prefix: string, list: () => AsyncIterable<ObjectInfo>): AsyncIterable<ObjectInfo> {
  if (VALID_KEY.test(prefix.replace(/\/$/, ''))) return list();
  const error = refused('prefix', prefix);
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
  };
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
 * (a server bug: URL input is checked before it can reach here, so this answers
 * a 500 and logs the key) and turns a full disk into a typed error.
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
    return checkedList(prefix, () => this.inner.list(prefix, options));
  }
  async abortStaleUploads(before: Date): Promise<number> {
    return (await this.inner.abortStaleUploads?.(before)) ?? 0;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
