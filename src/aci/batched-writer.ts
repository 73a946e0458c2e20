/**
 * A writable front for zlib that copies what it is given into a few reused
 * buffers and passes them on whole. Network reads arrive in 16 KiB TLS records,
 * and each write to a zlib stream costs a thread-pool round trip: fed 16 KiB at a
 * time, gunzip runs much slower (docs/benchmarks.md#pushes). Copying into
 * reused buffers rather than concatenating keeps the batches from being fresh
 * allocations, which would make V8 run full collections for the memory alone.
 *
 * A buffer is reused once the target's write callback has fired: zlib calls it
 * only after it has read all of that input. Not for targets that hand their input
 * on unchanged (a PassThrough), whose readers would see it overwritten.
 */
import { Writable } from 'node:stream';

export interface BatchOptions {
  buffers: number;
  bytes: number;
}

export function batchedWriter(target: Writable, { buffers, bytes }: BatchOptions): Writable {
  const free: Buffer[] = Array.from({ length: buffers }, () => Buffer.allocUnsafe(bytes));
  let current: Buffer | undefined;
  let filled = 0;
  let whenFree: (() => void) | undefined;
  let failure: Error | null = null;

  const send = (): void => {
    const buffer = current!;
    const length = filled;
    current = undefined;
    filled = 0;
    target.write(buffer.subarray(0, length), (error) => {
      if (error) failure ??= error;
      free.push(buffer);
      const resume = whenFree;
      whenFree = undefined;
      resume?.();
    });
  };

  const writer = new Writable({
    highWaterMark: bytes,
    write(chunk: Buffer, _encoding, callback) {
      let offset = 0;
      const fill = (): void => {
        while (offset < chunk.length) {
          if (failure) return callback(failure);
          current ??= free.pop();
          if (!current) {
            whenFree = fill; // every buffer is with the target: wait for one
            return;
          }
          const copied = chunk.copy(current, filled, offset);
          offset += copied;
          filled += copied;
          if (filled === current.length) send();
        }
        callback();
      };
      fill();
    },
    final(callback) {
      if (filled > 0) send();
      target.end();
      callback();
    },
    // A front destroyed after it finished (pipeline() does that) leaves the target to finish
    // reading; one destroyed by a failure takes the target down with it.
    destroy(error, callback) {
      if (error && !target.destroyed) target.destroy(error);
      callback(error);
    },
  });
  // The target's own error reaches its owner; this front must not crash the process with it.
  writer.on('error', () => {});
  return writer;
}
