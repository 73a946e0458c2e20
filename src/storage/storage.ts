import type { Readable } from 'node:stream';

/**
 * The storage contract every backend meets (filesystem now, S3-compatible
 * object stores next). Keys are relative, '/'-separated, without '..' or empty
 * segments; src/storage/layout.ts owns which keys exist. Nothing here may rely on
 * rename or directory semantics: an object store has neither.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  modified: Date;
}

/** Inclusive byte range, as in HTTP. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface PutOptions {
  /**
   * Create-only: fail with KeyExistsError when the key already holds an object.
   * Atomic across processes and replicas. Create-only puts take a Buffer (records,
   * not images): that is what an object store can make conditional.
   */
  ifAbsent?: boolean;
}

export interface ListOptions {
  /** Only keys after this one (in key order): how a poller resumes where it stopped. */
  startAfter?: string;
}

export interface Storage {
  /** Streams an object, or the given range of it. Throws KeyNotFoundError when absent. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** A small object's whole content, or null when absent. For records, not images. */
  get(key: string): Promise<Buffer | null>;
  /** Size and modification time, or null when absent. */
  stat(key: string): Promise<ObjectInfo | null>;
  /**
   * Stores `body` under `key`. The object becomes visible complete or not at all:
   * a reader never sees part of it, and a failed or aborted put leaves nothing at
   * `key` (scratch data goes under `tmp/`, which the sweep clears).
   */
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<ObjectInfo>;
  /**
   * Makes the object at `from` available at `to` and removes `from`. Used to publish a
   * staged upload; backends may copy. `to` must not exist (KeyExistsError).
   */
  promote(from: string, to: string): Promise<void>;
  /** Removes an object; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /**
   * Backends that keep invisible partial uploads (S3 multipart uploads) remove
   * those started before `before`: what a crash mid-upload leaves behind.
   */
  abortStaleUploads?(before: Date): Promise<number>;
  /** Releases clients and handles. */
  close(): Promise<void>;
}

/**
 * What a stream from Storage.read() may also offer: a reader that writes every
 * chunk straight on to a sink it can watch (an HTTP response) lets the stream
 * refill buffers the sink has finished with, instead of allocating new ones.
 */
export interface RecyclingReader {
  /** `sink` receives every chunk as it is read out; its 'drain' with nothing left to write means it is done with them. */
  enableRecycling(sink: DrainingSink): void;
}

/** The part of a Writable (an HTTP response) that tells when it has written out everything. */
export interface DrainingSink {
  readonly writableLength: number;
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

export const isRecyclingReader = (stream: unknown): stream is RecyclingReader =>
  typeof (stream as Partial<RecyclingReader>)?.enableRecycling === 'function';

export class KeyNotFoundError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`no object at ${key}`);
    this.key = key;
    this.name = 'KeyNotFoundError';
  }
}

export class KeyExistsError extends Error {
  readonly key: string;
  constructor(key: string) {
    super(`an object already exists at ${key}`);
    this.key = key;
    this.name = 'KeyExistsError';
  }
}

/** A create-only write: true when this call created `key`, false when an object was already there. */
export async function createOnce(storage: Storage, key: string, body: Buffer): Promise<boolean> {
  try {
    await storage.put(key, body, { ifAbsent: true });
    return true;
  } catch (e) {
    if (e instanceof KeyExistsError) return false;
    throw e;
  }
}
