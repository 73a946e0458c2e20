/**
 * Streaming decoders for the ACI container formats. gzip runs in node:zlib;
 * bzip2 and xz run as Debian's `bzip2 -dc` / `xz -dc` child processes, which
 * outrun every JavaScript decoder and keep a crash-prone native decoder out of the
 * server process.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { invalid, unavailable } from '../errors.ts';
import { batchedWriter } from './batched-writer.ts';
import type { Compression } from './format.ts';

export interface Decoder {
  /** Compressed bytes go in here. */
  input: Writable;
  /** Tar bytes come out here. */
  output: Readable;
  /** Settles once the decoder has finished: resolves only if the data was whole and valid. */
  done: Promise<void>;
  /** Stops decoding at once (kills a child process); safe to call more than once. */
  destroy(): void;
}

/** gunzip's chunks, in and out: zlib's 16 KiB default slows it down (docs/benchmarks.md#pushes). */
const GUNZIP_CHUNK = 256 * 1024;
// Input batches in flight: one being read by zlib, one queued, one filling.
const GUNZIP_INPUT_BUFFERS = 3;

const REBUILD = 're-create the ACI and upload it again';

/** A promise whose rejection is never reported as unhandled: the inspector may settle first. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function gunzipDecoder(): Decoder {
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const done = new Promise<void>((resolve, reject) => {
    gunzip.once('end', resolve);
    gunzip.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'Z_BUF_ERROR'
          ? invalid('ARCHIVE_TRUNCATED', `the gzip data ends too early; the upload is incomplete; ${REBUILD}`, e)
          : invalid('ARCHIVE_CORRUPT', `the gzip data is corrupt (${e.message}); ${REBUILD}`, e),
      );
    });
  });
  const input = batchedWriter(gunzip, { buffers: GUNZIP_INPUT_BUFFERS, bytes: GUNZIP_CHUNK });
  const destroy = () => {
    input.destroy();
    gunzip.destroy();
  };
  return { input, output: gunzip, done: quiet(done), destroy };
}

function plainDecoder(): Decoder {
  const pass = new PassThrough();
  const done = new Promise<void>((resolve) => pass.once('end', resolve));
  return { input: pass, output: pass, done, destroy: () => pass.destroy() };
}

function childDecoder(tool: 'bzip2' | 'xz'): Decoder {
  const child = spawn(tool, ['-dc'], { stdio: ['pipe', 'pipe', 'ignore'] });
  // The tool may quit before reading everything (bad data): its exit code tells, not EPIPE.
  child.stdin.on('error', () => {});
  child.stdout.on('error', () => {});
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (e) => {
      reject(unavailable('DECOMPRESSOR_UNAVAILABLE', `the server cannot run ${tool} to read this ACI; use gzip`, e));
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(invalid('ARCHIVE_CORRUPT', `the ${tool} data is corrupt or truncated; ${REBUILD}`));
    });
  });
  const destroy = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdin.destroy();
    child.stdout.destroy();
  };
  return { input: child.stdin, output: child.stdout, done: quiet(done), destroy };
}

export function createDecoder(compression: Compression): Decoder {
  switch (compression) {
    case 'gzip':
      return gunzipDecoder();
    case 'bzip2':
    case 'xz':
      return childDecoder(compression);
    case 'none':
      return plainDecoder();
  }
}
