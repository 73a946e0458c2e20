/**
 * Spooling a layer, unpacked, to a scratch file as it arrives (its decompressor by
 * the layer's media type, its uncompressed bytes counted against a shared cap as
 * they come out: a bomb stops there), and reading a spooled layer's tar entries
 * with tar-stream. Backpressure throughout: a layer is never held in memory, and
 * it is decompressed once however often it is read.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { extract as createExtract } from 'tar-stream';
import type { Header } from 'tar-stream';
import { invalid, isAcihostError, tooLarge } from '../errors.ts';
import { layerCompression as compressionOf, type LayerCompression } from '../upstream/media-types.ts';
import type { Descriptor } from './image-source.ts';

/** How the layer is compressed, by its media type (OCI's, or Docker's). */
export function layerCompression(d: Descriptor): LayerCompression {
  const c = compressionOf(d.mediaType);
  if (c === undefined) {
    throw invalid(
      'CONVERT_LAYER_MEDIA_TYPE',
      `the layer ${d.digest} is ${JSON.stringify(d.mediaType.slice(0, 100))}; only tar layers, plain, gzip or zstd, can be converted`,
    );
  }
  return c;
}

/** Uncompressed bytes read so far across the layers of one conversion, against its cap. */
export class ByteBudget {
  readonly max: number;
  #used = 0;
  constructor(max: number) {
    this.max = max;
  }

  take(n: number): void {
    this.#used += n;
    if (this.#used > this.max) {
      throw tooLarge(
        'UNCOMPRESSED_TOO_LARGE',
        `the image's layers unpack to more than this server's limit of ${this.max} bytes (limits.maxUncompressedBytes)`,
      );
    }
  }
}

function decompressor(c: LayerCompression): Transform {
  // zlib's 16 KiB default chunks slow it down; 256 KiB is what src/aci uses.
  if (c === 'gzip') return createGunzip({ chunkSize: 256 * 1024 });
  if (c === 'zstd') return createZstdDecompress({ chunkSize: 256 * 1024 });
  return new PassThrough();
}

const BLOCK = 512;

/**
 * Counts the tar bytes against the budget, and ends them with the padding and
 * two zero blocks that close a tar. Some writers leave those out (umoci 0.4.7's
 * layers stop right after the last file's bytes); Go's reader, and so Docker,
 * accepts that, and the layer's digest already says these are its author's bytes.
 * A tar that had them ends at its own end-of-archive blocks, before these.
 */
function meter(budget: ByteBudget): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      try {
        budget.take(chunk.length);
      } catch (e) {
        return cb(e as Error);
      }
      cb(null, chunk);
    },
    flush(cb) {
      cb(null, Buffer.alloc(((BLOCK - (size % BLOCK)) % BLOCK) + 2 * BLOCK));
    },
  });
}

/** One entry: its header (names as byte strings, see src/aci/tar-entry.ts) and its body. */
export type EntryHandler = (header: Header, body: EntryBody, ordinal: number) => Promise<void>;

/** An entry's body, as tar-stream gives it (a streamx stream). */
export type EntryBody = AsyncIterable<Buffer> & { resume(): unknown };

/** tar-stream reads this option, though its typings omit it. */
const EXTRACT_OPTIONS = { filenameEncoding: 'latin1' } as Parameters<typeof createExtract>[0];

/** Writes the layer's tar, unpacked, to `file`; failures of the data become CONVERT_LAYER_INVALID naming the layer. */
export async function spoolLayer(
  source: Readable,
  file: string,
  layer: Descriptor,
  budget: ByteBudget,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await pipeline(source, decompressor(layerCompression(layer)), meter(budget), createWriteStream(file), { signal });
  } catch (e) {
    throw layerError(e, layer);
  }
}

/**
 * Calls `onEntry` for every entry of the layer spooled in `file`, in order, one at
 * a time; an entry's body not read by the handler is drained. Failures of the data
 * become CONVERT_LAYER_INVALID naming the layer; typed errors pass unchanged.
 */
export async function eachEntry(file: string, layer: Descriptor, signal: AbortSignal | undefined, onEntry: EntryHandler): Promise<void> {
  const extract = createExtract(EXTRACT_OPTIONS);
  const piped = pipeline(createReadStream(file), extract, { signal });
  piped.catch(() => {}); // the loop below reports the same failure
  let ordinal = 0;
  try {
    for await (const entry of extract) {
      await onEntry(entry.header, entry as unknown as EntryBody, ordinal++);
      entry.resume();
    }
    await piped;
  } catch (e) {
    extract.destroy();
    if (isAcihostError(e)) throw e;
    // The loop may see only a premature close; the stage that failed tells why (a cap, say).
    const why = await piped.then(
      () => e,
      (p: unknown) => p,
    );
    throw layerError(why, layer);
  }
}

function layerError(e: unknown, layer: Descriptor): Error {
  if (isAcihostError(e)) return e;
  if (e instanceof Error && e.name === 'AbortError') return e;
  // A typed error thrown inside a pipeline stage comes back as the cause of the pipeline's.
  const cause = e instanceof Error ? e.cause : undefined;
  if (isAcihostError(cause)) return cause;
  const message = e instanceof Error ? e.message : String(e);
  return invalid('CONVERT_LAYER_INVALID', `the layer ${layer.digest} is not a valid compressed tar (${message.slice(0, 120)})`, e);
}
