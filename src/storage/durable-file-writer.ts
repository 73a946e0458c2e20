/**
 * Writes a new file and ends only once its bytes are on disk. Left to the end, the
 * fsync of a large upload waits for the disk to take every byte of it at once, after
 * the last byte arrived; here the file's data is flushed every SYNC_EVERY bytes while
 * the rest still streams in, so the final fsync has only the tail left to wait for.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Bytes written between flushes started in the background. */
export const SYNC_EVERY = 32 * 1024 * 1024;

export class DurableFileWriter extends Writable {
  readonly #path: string;
  #handle: FileHandle | undefined;
  #position = 0;
  #unsynced = 0;
  /** The flush in the background, if one is running: at most one at a time. */
  #flushing: Promise<void> | undefined;
  #flushError: Error | undefined;

  /** Creates `path`, which must not exist yet (O_EXCL). */
  constructor(path: string, highWaterMark: number) {
    super({ highWaterMark });
    this.#path = path;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.#path, 'wx').then((handle) => {
      this.#handle = handle;
      callback();
    }, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#write(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (async () => {
      await this.#flushing;
      if (this.#flushError) throw this.#flushError;
      await this.#handle!.sync();
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.#handle;
    this.#handle = undefined;
    // A flush still running holds the descriptor: close after it.
    Promise.resolve(this.#flushing)
      .then(() => handle?.close())
      .then(
        () => callback(error),
        (closeError: Error) => callback(error ?? closeError),
      );
  }

  async #write(buffers: Buffer[]): Promise<void> {
    if (this.#flushError) throw this.#flushError;
    const handle = this.#handle!;
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await handle.writev(pending, this.#position);
      this.#position += bytesWritten;
      this.#unsynced += bytesWritten;
      pending = remainder(pending, bytesWritten);
    }
    if (this.#unsynced >= SYNC_EVERY && !this.#flushing) {
      this.#unsynced = 0;
      this.#flushing = handle.datasync().then(
        () => {
          this.#flushing = undefined;
        },
        (e: Error) => {
          this.#flushing = undefined;
          this.#flushError = e;
        },
      );
    }
  }
}

/** What is left of `buffers` after their first `written` bytes (a short write). */
function remainder(buffers: Buffer[], written: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && written >= buffers[i]!.length) written -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(written), ...buffers.slice(i + 1)];
}
