/**
 * A file, or a byte range of it, as a stream of 1 MiB chunks: Node's 64 KiB
 * default costs much of the download throughput (docs/benchmarks.md#downloads).
 *
 * By default every chunk is a fresh buffer, safe for any reader. A reader that
 * writes each chunk on at once to a sink it can watch (an HTTP response) may call
 * enableRecycling(): a buffer read out before the sink last drained completely is
 * then refilled instead of a new one allocated. Fresh 1 MiB buffers are external
 * memory to V8, and a large download made it run full collections over and over,
 * which took much of the CPU the download cost.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { DrainingSink, RecyclingReader } from './storage.ts';

export const READ_CHUNK = 1024 * 1024;
// Buffers kept for reuse; a reader with backpressure needs two or three.
const MAX_SPARE = 4;

export class FileReadStream extends Readable implements RecyclingReader {
  readonly #handle: FileHandle;
  #position: number;
  /** One past the last byte to read. */
  readonly #end: number;
  #spare: Buffer[] = [];
  /** Buffers pushed and not yet known to be done with, oldest first. */
  #outstanding: { buffer: Buffer; size: number }[] = [];
  #stopRecycling: (() => void) | undefined;

  constructor(handle: FileHandle, start = 0, endInclusive = Infinity) {
    super({ highWaterMark: READ_CHUNK });
    this.#handle = handle;
    this.#position = start;
    this.#end = endInclusive + 1;
  }

  enableRecycling(sink: DrainingSink): void {
    // Each time the sink has written out everything, what was read out of this stream before is done with.
    const onDrain = () => {
      if (sink.writableLength === 0) this.#recycleReadOut();
    };
    sink.on('drain', onDrain);
    this.#stopRecycling = () => sink.off('drain', onDrain);
  }

  override _read(): void {
    const length = Math.min(READ_CHUNK, this.#end - this.#position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    const buffer = this.#spare.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
    this.#handle.read(buffer, 0, length, this.#position).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) return void this.push(null);
        this.#position += bytesRead;
        if (this.#stopRecycling) this.#outstanding.push({ buffer, size: bytesRead });
        this.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: Error) => this.destroy(error),
    );
  }

  /** Moves the buffers already read out of this stream (all but the newest still buffered here) to the spares. */
  #recycleReadOut(): void {
    let unread = this.readableLength;
    let keep = 0;
    while (unread > 0 && keep < this.#outstanding.length) unread -= this.#outstanding[this.#outstanding.length - 1 - keep++]!.size;
    for (const { buffer } of this.#outstanding.splice(0, this.#outstanding.length - keep)) {
      if (this.#spare.length < MAX_SPARE) this.#spare.push(buffer);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#stopRecycling?.();
    this.#handle.close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }
}
