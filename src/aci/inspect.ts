/**
 * The streaming ACI inspector: the upload's bytes go in, a verdict comes out.
 * It never extracts or buffers the archive: bytes flow sink -> decoder ->
 * (size cap, sha512) -> tar parser, with backpressure at every step, and only
 * the manifest (bounded by maxManifestBytes) is held in memory.
 *
 *   sink.write ─ sniff 262 bytes ─▶ decoder ─▶ meter (cap, sha512) ─▶ tar-stream
 *                                                                        │
 *                                             ArchiveLayout ◀─ entries ──┘
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { extract as createExtract } from 'tar-stream';
import type { Extract, ExtractEvents } from 'tar-stream';
import { isAcihostError, malformed, tooLarge } from '../errors.ts';
import type { AcihostError } from '../errors.ts';
import { createDecoder } from './decompress.ts';
import type { Decoder } from './decompress.ts';
import type { Compression } from './format.ts';
import { parseManifest } from './manifest.ts';
import type { ImageManifest } from './manifest.ts';
import { Sniffer } from './sniffer.ts';
import { tarError } from './tar-errors.ts';
import { toTarEntry } from './tar-entry.ts';
import type { TarHeader } from './tar-entry.ts';
import { ArchiveLayout } from './tar-rules.ts';

export interface InspectLimits {
  maxUncompressedBytes: number;
  maxEntries: number;
  maxManifestBytes: number;
  maxPathBytes: number;
}

export interface InspectResult {
  manifest: ImageManifest;
  /** 'sha512-' + 128 hex digits of the uncompressed tar: the appc image ID. */
  imageId: string;
  uncompressedSize: number;
  compression: Compression;
  entries: number;
}

export interface Inspector {
  /** Write the raw .aci bytes here and end it; destroy it to abort. */
  sink: Writable;
  /** Resolves when the whole archive checked out; rejects with an AcihostError. */
  result: Promise<InspectResult>;
}

type Callback = (error?: Error | null) => void;
type EntryBody = ExtractEvents['entry'][1];

/** tar-stream reads this option, though its typings omit it. */
const EXTRACT_OPTIONS = { filenameEncoding: 'latin1' } as Parameters<typeof createExtract>[0];

class Inspection {
  readonly sink: Writable;
  readonly result: Promise<InspectResult>;
  readonly #limits: InspectLimits;
  readonly #layout: ArchiveLayout;
  readonly #hash = createHash('sha512');
  readonly #sniffer = new Sniffer();
  readonly #tar: Extract;
  #size = 0;
  #decoder: Decoder | undefined;
  #compression: Compression = 'none';
  #manifest: ImageManifest | undefined;
  #settled = false;
  #pendingWrite: Callback | undefined;
  #finalCallback: Callback | undefined;
  #resolve!: (r: InspectResult) => void;
  #reject!: (e: Error) => void;

  constructor(limits: InspectLimits) {
    this.#limits = limits;
    this.#layout = new ArchiveLayout(limits);
    this.result = new Promise<InspectResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that only watches the sink must not get an unhandled rejection.
    this.result.catch(() => {});
    this.sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => this.#write(chunk, cb),
      final: (cb) => this.#final(cb),
      destroy: (err, cb) => this.#destroyed(err, cb),
    });
    // Every failure also rejects `result`; a caller listening only there must not crash on 'error'.
    this.sink.on('error', () => {});
    this.#tar = this.#createTar();
  }

  #createTar(): Extract {
    // latin1 keeps names as byte strings (see tar-entry.ts).
    const tar = createExtract(EXTRACT_OPTIONS);
    tar.on('entry', (header, body, next) => this.#entry(header as TarHeader, body, next));
    tar.on('drain', () => this.#decoder?.output.resume());
    tar.on('finish', () => this.#tarFinished());
    tar.on('error', (e: Error) => this.#fail(tarError(e)));
    return tar;
  }

  // --- compressed side ---------------------------------------------------

  #write(chunk: Buffer, cb: Callback): void {
    if (this.#settled) return cb();
    if (this.#decoder !== undefined) return this.#forward(chunk, cb);
    const sniffed = this.#sniffer.push(chunk, false);
    if (sniffed === undefined) return cb();
    if (this.#start(sniffed.compression) === undefined) return cb();
    this.#forward(sniffed.head, cb);
  }

  #final(cb: Callback): void {
    this.#finalCallback = cb;
    if (this.#decoder === undefined && !this.#settled) {
      // An upload shorter than the sniff window: decide on what there is.
      const sniffed = this.#sniffer.push(Buffer.alloc(0), true)!;
      this.#start(sniffed.compression)?.input.end(sniffed.head);
    } else {
      this.#decoder?.input.end();
    }
    this.result.then(
      () => this.#callFinal(null),
      (e: Error) => this.#callFinal(e),
    );
  }

  #callFinal(error: Error | null): void {
    const cb = this.#finalCallback;
    this.#finalCallback = undefined;
    cb?.(error);
  }

  /** Hands compressed bytes to the decoder, holding the caller while the decoder is full. */
  #forward(chunk: Buffer, cb: Callback): void {
    if (this.#decoder!.input.write(chunk)) return cb();
    this.#pendingWrite = cb;
    this.#decoder!.input.once('drain', () => this.#releaseWrite());
  }

  #releaseWrite(): void {
    const cb = this.#pendingWrite;
    this.#pendingWrite = undefined;
    cb?.();
  }

  /** Starts the decoder for the sniffed format; undefined (and failed) for an unknown one. */
  #start(compression: Compression | 'unknown'): Decoder | undefined {
    if (compression === 'unknown') {
      this.#fail(this.#sniffer.unknownFormatError());
      return undefined;
    }
    this.#compression = compression;
    const decoder = createDecoder(compression);
    this.#decoder = decoder;
    decoder.output.on('data', (tarBytes: Buffer) => this.#tarBytes(tarBytes));
    decoder.output.once('end', () => {
      decoder.done.then(
        () => this.#settled || this.#tar.end(undefined), // streamx's typings insist on an argument
        (e: AcihostError) => this.#fail(e),
      );
    });
    decoder.done.catch((e: AcihostError) => this.#fail(e));
    return decoder;
  }

  // --- tar side ----------------------------------------------------------

  /** Counts and hashes the tar bytes, stopping the decoder the moment the cap is passed. */
  #tarBytes(chunk: Buffer): void {
    if (this.#settled) return;
    this.#size += chunk.length;
    if (this.#size > this.#limits.maxUncompressedBytes) {
      return this.#fail(
        tooLarge(
          'UNCOMPRESSED_TOO_LARGE',
          `the unpacked image is larger than this server's limit of ${this.#limits.maxUncompressedBytes} bytes; ` +
            'make the image smaller',
        ),
      );
    }
    this.#hash.update(chunk);
    if (!this.#tar.write(chunk)) this.#decoder!.output.pause();
  }

  #entry(header: TarHeader, body: EntryBody, next: () => void): void {
    if (this.#settled) return;
    let role;
    try {
      role = this.#layout.accept(toTarEntry(header));
    } catch (e) {
      return this.#fail(e);
    }
    body.on('error', () => {}); // the tar parser reports the same failure
    if (role === 'manifest') return this.#readManifest(header.size ?? 0, body, next);
    // Bodiless entries need no draining; skipping their streams saves time per entry.
    if (!header.size || header.type === 'directory') return next();
    body.on('end', () => next());
    body.resume();
  }

  #readManifest(size: number, body: EntryBody, next: () => void): void {
    if (size > this.#limits.maxManifestBytes) {
      return this.#fail(
        tooLarge(
          'MANIFEST_TOO_LARGE',
          `the manifest is ${size} bytes, over this server's limit of ${this.#limits.maxManifestBytes}; shrink it`,
        ),
      );
    }
    const chunks: Buffer[] = [];
    body.on('data', (c) => chunks.push(c as Buffer));
    body.on('end', () => {
      try {
        this.#manifest = parseManifest(Buffer.concat(chunks));
      } catch (e) {
        return this.#fail(e);
      }
      next();
    });
  }

  #tarFinished(): void {
    if (this.#settled) return;
    try {
      this.#layout.finish();
    } catch (e) {
      return this.#fail(e);
    }
    this.#settled = true;
    this.#releaseWrite();
    this.#resolve({
      manifest: this.#manifest!,
      imageId: `sha512-${this.#hash.digest('hex')}`,
      uncompressedSize: this.#size,
      compression: this.#compression,
      entries: this.#layout.entries,
    });
  }

  // --- ending --------------------------------------------------------------

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#teardown();
    // Anything but an AcihostError is a bug in here: pass it on untouched (a 500).
    const e = error instanceof Error ? error : new Error(String(error));
    this.#reject(e);
    // Stop whoever feeds the sink: through _final if it is waiting, else by destroying it.
    if (this.#finalCallback !== undefined) this.#callFinal(e);
    else if (!this.sink.destroyed) this.sink.destroy(e);
  }

  /** The caller destroyed the sink (aborted upload), or #fail did. */
  #destroyed(error: Error | null, cb: Callback): void {
    if (!this.#settled) {
      this.#settled = true;
      this.#teardown();
      this.#reject(aborted(error));
    }
    cb(error);
  }

  #teardown(): void {
    this.#decoder?.destroy();
    this.#tar.destroy();
  }
}

function aborted(cause: Error | null): AcihostError {
  if (isAcihostError(cause)) return cause;
  return malformed('UPLOAD_ABORTED', 'the upload stopped before the archive was complete; send the whole file again', cause);
}

export function createInspector(limits: InspectLimits): Inspector {
  const inspection = new Inspection(limits);
  return { sink: inspection.sink, result: inspection.result };
}
