/**
 * Holds back the first bytes of an upload until they tell its format (at most
 * 262 bytes), so the right decoder can be started before anything is decoded.
 */
import { invalid } from '../errors.ts';
import type { AcihostError } from '../errors.ts';
import { detectFormat } from './format.ts';
import type { Compression } from './format.ts';

export interface Sniffed {
  compression: Compression | 'unknown';
  /** Every byte held back so far, to be fed to the decoder first. */
  head: Buffer;
}

export class Sniffer {
  #head: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the verdict once the format is known (always when `complete`). */
  push(chunk: Buffer, complete: boolean): Sniffed | undefined {
    // The usual first chunk is far over 262 bytes: use it as is, without a copy.
    this.#head = this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
    const compression = detectFormat(this.#head, complete);
    return compression === undefined ? undefined : { compression, head: this.#head };
  }

  unknownFormatError(): AcihostError {
    if (this.#head.length === 0) {
      return invalid('ARCHIVE_FORMAT_UNKNOWN', 'the upload is empty; send the .aci file itself');
    }
    return invalid(
      'ARCHIVE_FORMAT_UNKNOWN',
      'the upload is not an ACI: it is neither gzip, bzip2, xz nor a ustar tar archive ' +
        '(build it with actool build, which writes gzip)',
    );
  }
}
